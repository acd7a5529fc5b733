"""Natural prose in the 12 languages of the quality rules' per-language table, written for these tests (CC0).

Each language has a heading and six sentences in the register of a user manual or a travel book, the
kinds of real text the filters must keep: menu paths, numbers, parentheses, quotes and short headings
included, as real documents have them. `document(lang)` lays them out as a page (heading, blank line,
paragraphs separated by blank lines).
"""
from __future__ import annotations

SAMPLES: dict[str, tuple[str, list[str]]] = {
    "en": ("Printing a document", [
        "Before you print, check that the printer is switched on and connected to your computer.",
        "Choose File - Print to open the dialog, then select the printer you want to use from the list.",
        "You can print only some pages by typing their numbers, for example 2-5 or 7, in the Pages box.",
        "The preview on the left shows how the first page will look on paper, including its margins.",
        "If the text appears too small, increase the scale or change the paper size to A4 or Letter.",
        "When you are ready, click OK and the document is sent to the printer in the background.",
    ]),
    "de": ("Ein Dokument drucken", [
        "Bevor Sie drucken, prüfen Sie, ob der Drucker eingeschaltet und mit dem Computer verbunden ist.",
        "Wählen Sie Datei - Drucken, um den Dialog zu öffnen, und wählen Sie dann den gewünschten Drucker aus.",
        "Sie können auch nur einzelne Seiten drucken, indem Sie deren Nummern, zum Beispiel 2-5, eingeben.",
        "Die Vorschau auf der linken Seite zeigt, wie die erste Seite mit ihren Rändern aussehen wird.",
        "Wenn der Text zu klein erscheint, vergrößern Sie den Maßstab oder ändern Sie das Papierformat.",
        "Klicken Sie auf OK, und das Dokument wird im Hintergrund an den Drucker gesendet.",
    ]),
    "fr": ("Imprimer un document", [
        "Avant d'imprimer, vérifiez que l'imprimante est allumée et reliée à votre ordinateur.",
        "Choisissez Fichier - Imprimer pour ouvrir la boîte de dialogue, puis sélectionnez l'imprimante voulue.",
        "Vous pouvez n'imprimer que certaines pages en saisissant leurs numéros, par exemple 2-5 ou 7.",
        "L'aperçu à gauche montre à quoi ressemblera la première page sur le papier, avec ses marges.",
        "Si le texte paraît trop petit, augmentez l'échelle ou changez le format du papier en A4.",
        "Lorsque tout est prêt, cliquez sur OK et le document est envoyé à l'imprimante en arrière-plan.",
    ]),
    "es": ("Imprimir un documento", [
        "Antes de imprimir, compruebe que la impresora está encendida y conectada al ordenador.",
        "Elija Archivo - Imprimir para abrir el diálogo y seleccione la impresora que quiere usar.",
        "Puede imprimir solo algunas páginas si escribe sus números, por ejemplo 2-5 o 7, en el cuadro.",
        "La vista previa de la izquierda muestra cómo quedará la primera página en el papel con sus márgenes.",
        "Si el texto aparece demasiado pequeño, aumente la escala o cambie el tamaño del papel a A4.",
        "Cuando esté listo, pulse Aceptar y el documento se enviará a la impresora en segundo plano.",
    ]),
    "it": ("Stampare un documento", [
        "Prima di stampare, controllate che la stampante sia accesa e collegata al computer.",
        "Scegliete File - Stampa per aprire la finestra di dialogo e selezionate la stampante da usare.",
        "Potete stampare solo alcune pagine scrivendo i loro numeri, per esempio 2-5 oppure 7.",
        "L'anteprima a sinistra mostra come apparirà la prima pagina sulla carta, con i suoi margini.",
        "Se il testo sembra troppo piccolo, aumentate la scala o cambiate il formato della carta in A4.",
        "Quando tutto è pronto, fate clic su OK e il documento viene inviato alla stampante.",
    ]),
    "pt": ("Imprimir um documento", [
        "Antes de imprimir, verifique se a impressora está ligada e conectada ao computador.",
        "Escolha Arquivo - Imprimir para abrir o diálogo e depois selecione a impressora que quer usar.",
        "Pode imprimir apenas algumas páginas escrevendo os seus números, por exemplo 2-5 ou 7.",
        "A pré-visualização à esquerda mostra como a primeira página vai ficar no papel, com as margens.",
        "Se o texto parecer pequeno demais, aumente a escala ou mude o tamanho do papel para A4.",
        "Quando estiver pronto, clique em OK e o documento é enviado para a impressora em segundo plano.",
    ]),
    "nl": ("Een document afdrukken", [
        "Controleer voordat u afdrukt of de printer aan staat en met de computer is verbonden.",
        "Kies Bestand - Afdrukken om het dialoogvenster te openen en selecteer dan de gewenste printer.",
        "U kunt ook alleen enkele pagina's afdrukken door hun nummers in te typen, bijvoorbeeld 2-5 of 7.",
        "Het voorbeeld aan de linkerkant laat zien hoe de eerste pagina er met de marges uit zal zien.",
        "Als de tekst te klein lijkt, vergroot dan de schaal of wijzig het papierformaat in A4.",
        "Klik op OK wanneer alles klaar is, en het document wordt op de achtergrond naar de printer gestuurd.",
    ]),
    "pl": ("Drukowanie dokumentu", [
        "Przed drukowaniem sprawdź, czy drukarka jest włączona i podłączona do komputera.",
        "Wybierz Plik - Drukuj, aby otworzyć okno dialogowe, a następnie wybierz drukarkę z listy.",
        "Możesz wydrukować tylko niektóre strony, wpisując ich numery, na przykład 2-5 lub 7.",
        "Podgląd po lewej stronie pokazuje, jak pierwsza strona będzie wyglądać na papierze razem z marginesami.",
        "Jeśli tekst wydaje się zbyt mały, zwiększ skalę albo zmień rozmiar papieru na A4.",
        "Gdy wszystko jest gotowe, kliknij OK, a dokument zostanie wysłany do drukarki w tle.",
    ]),
    "ru": ("Печать документа", [
        "Перед печатью убедитесь, что принтер включён и подключён к компьютеру.",
        "Выберите Файл - Печать, чтобы открыть диалоговое окно, а затем выберите нужный принтер.",
        "Можно напечатать только некоторые страницы, если ввести их номера, например 2-5 или 7.",
        "Предварительный просмотр слева показывает, как первая страница будет выглядеть на бумаге с полями.",
        "Если текст кажется слишком мелким, увеличьте масштаб или измените формат бумаги на A4.",
        "Когда всё готово, нажмите OK, и документ будет отправлен на принтер в фоновом режиме.",
    ]),
    "el": ("Εκτύπωση εγγράφου", [
        "Πριν από την εκτύπωση, ελέγξτε ότι ο εκτυπωτής είναι αναμμένος και συνδεδεμένος με τον υπολογιστή.",
        "Επιλέξτε Αρχείο - Εκτύπωση για να ανοίξει το παράθυρο διαλόγου και διαλέξτε τον εκτυπωτή που θέλετε.",
        "Μπορείτε να εκτυπώσετε μόνο μερικές σελίδες γράφοντας τους αριθμούς τους, για παράδειγμα 2-5 ή 7.",
        "Η προεπισκόπηση στα αριστερά δείχνει πώς θα φαίνεται η πρώτη σελίδα στο χαρτί μαζί με τα περιθώρια.",
        "Τι κάνετε αν το κείμενο φαίνεται πολύ μικρό; Αυξήστε την κλίμακα ή αλλάξτε το μέγεθος του χαρτιού σε A4.",
        "Όταν όλα είναι έτοιμα, πατήστε OK και το έγγραφο στέλνεται στον εκτυπωτή στο παρασκήνιο.",
    ]),
    "ja": ("文書を印刷する", [
        "印刷する前に、プリンターの電源が入っていて、コンピューターに接続されていることを確認してください。",
        "「ファイル」メニューから「印刷」を選ぶとダイアログが開くので、使用するプリンターを一覧から選択します。",
        "ページ番号を入力すれば、たとえば2-5や7のように、一部のページだけを印刷することもできます。",
        "左側のプレビューには、最初のページが余白を含めて用紙の上でどのように見えるかが表示されます。",
        "文字が小さすぎるように見える場合は、倍率を上げるか、用紙のサイズをA4に変更してください。",
        "準備ができたら「OK」をクリックすると、文書はバックグラウンドでプリンターに送られます。",
    ]),
    "zh": ("打印文档", [
        "打印之前，请确认打印机已经打开，并且已经连接到您的电脑。",
        "选择“文件”菜单中的“打印”命令打开对话框，然后从列表中选择要使用的打印机。",
        "如果只想打印其中几页，可以在页码框中输入页码，例如2-5或者7。",
        "左边的预览显示第一页连同页边距在纸上会是什么样子。",
        "如果文字看起来太小，可以放大缩放比例，或者把纸张大小改为A4。",
        "一切准备好以后，点击“确定”，文档就会在后台发送到打印机。",
    ]),
}
LANGUAGES = sorted(SAMPLES)


def sentences(lang: str) -> list[str]:
    return list(SAMPLES[lang][1])


def document(lang: str, repeat: int = 1) -> str:
    """A page: the heading, then the sentences as paragraphs of two sentences, separated by blank lines
    (`repeat` times the body, each time with its sentences in another order so nothing repeats verbatim
    beyond what a long manual page would)."""
    heading, body = SAMPLES[lang]
    joiner = "" if lang in ("ja", "zh") else " "
    paras = []
    for r in range(repeat):
        order = body[r % len(body):] + body[:r % len(body)]
        paras += [joiner.join(order[i:i + 2]) for i in range(0, len(order), 2)]
    return heading + "\n\n" + "\n\n".join(paras)
