"""Recognizers and false-positive rules the PII stage adds to Presidio's.

* `StreetAddressRecognizer`: Presidio ships no street-address recognizer. This one matches postal street
  lines in the US and UK (house number, street name, USPS Publication 28 Appendix C1 street suffix, unit),
  US military mail (Publication 28 section 225: PSC/Unit/ship, APO/FPO/DPO), German (``Hauptstraße 12``, ``Am Markt 5``) and French (``12, rue de la Paix``) formats, with an optional
  postcode/city tail.
* `plausible(...)`: post-filters for the false positives Presidio users report (numbers, versions, log lines
  and code identifiers tagged as PERSON or DATE_TIME; version strings read as IP addresses; order numbers read
  as phone numbers), and the public/private IP rule (private, loopback, link-local and documentation ranges
  are not personal data and stay, as datatrove's PII formatter keeps them).

* `name_spans` / `cluster_name_recognizer`: PERSON for languages without an NER model (German), from the word
  clusters and lemma table of spacy-lookups-data (`NAME_CLUSTERS`).

No Presidio import at module level: `corpusforge.transforms.pii` sets the environment first.
"""
from __future__ import annotations

import ipaddress
import re

# --------------------------------------------------------------------------------------- addresses
# USPS Publication 28, Appendix C1 (primary street suffix names), plus the common abbreviations.
USPS_STREET_SUFFIXES = (
    "Alley Avenue Branch Bridge Brook Brooks Burg Burgs Bypass Camp Canyon Cape Causeway Center Centers Circle "
    "Circles Cliff Cliffs Club Common Corner Corners Course Court Courts Cove Coves Creek Crescent Crest Crossing "
    "Crossroad Curve Dale Dam Divide Drive Drives Estate Estates Expressway Extension Extensions Fall Falls Ferry "
    "Field Fields Flat Flats Ford Fords Forest Forge Forges Fork Forks Fort Freeway Garden Gardens Gateway Glen "
    "Glens Green Greens Grove Groves Harbor Harbors Haven Heights Highway Hill Hills Hollow Inlet Island Islands "
    "Isle Junction Junctions Key Keys Knoll Knolls Lake Lakes Land Landing Lane Light Lights Loaf Lock Locks Lodge "
    "Loop Mall Manor Manors Meadow Meadows Mews Mill Mills Mission Motorway Mount Mountain Mountains Neck Orchard "
    "Oval Overpass Park Parks Parkway Parkways Pass Passage Path Pike Pine Pines Place Plain Plains Plaza Point "
    "Points Port Ports Prairie Radial Ramp Ranch Rapid Rapids Rest Ridge Ridges River Road Roads Route Row Rue Run "
    "Shoal Shoals Shore Shores Skyway Spring Springs Spur Spurs Square Squares Station Stravenue Stream Street "
    "Streets Summit Terrace Throughway Trace Track Trafficway Trail Tunnel Turnpike Underpass Union Unions Valley "
    "Valleys Via Viaduct View Views Village Villages Ville Vista Walk Walks Wall Way Ways Well Wells "
    # abbreviations (USPS standard) and UK street words
    "St Ave Blvd Rd Dr Ln Ct Pl Sq Ter Pkwy Hwy Cir Trl Close Gate Hill Parade Rise Wharf Yard"
).split()

_SUFFIX = "(?:" + "|".join(sorted(set(USPS_STREET_SUFFIXES), key=lambda s: (-len(s), s))) + r")\.?"
_NAME_WORD = r"(?:[A-Z][A-Za-z'’\-]*\.?|\d{1,3}(?:st|nd|rd|th))"
_UNIT = r"(?:,?[ \t]+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Studio|\#)[ \t]*\#?[0-9]{1,5}[A-Za-z]?)?"
_PLACE = r"[A-Z][A-Za-z'’\-]+(?:[ \t][A-Z][A-Za-z'’\-]+){0,3}"
_UK_POSTCODE = r"[A-Z]{1,2}[0-9][A-Z0-9]?[ \t]?[0-9][A-Z]{2}"
_SEP = r"(?:,[ \t]*|,?[ \t]*\n[ \t]*)"
# City, ST 12345 | postcode City | City postcode
_EN_TAIL = (rf"(?:{_SEP}(?:{_PLACE},[ \t]*[A-Z]{{2}}[ \t]+[0-9]{{5}}(?:-[0-9]{{4}})?"
            rf"|{_UK_POSTCODE}[ \t]+{_PLACE}|{_PLACE}[ \t,]+{_UK_POSTCODE}))?")
_DIRECTION = r"(?:[ \t](?:N|S|E|W|NE|NW|SE|SW)\b)?"
US_UK_STREET = (rf"\b[0-9]{{1,6}}[A-Z]?[ \t]+(?:{_NAME_WORD}[ \t]+){{1,4}}{_SUFFIX}(?![\w@]){_DIRECTION}{_UNIT}{_EN_TAIL}")
UK_FLAT_STREET = (rf"\b(?:Flat|Studio|Apartment|Unit)[ \t]+[0-9]{{1,4}}[A-Za-z]?{_SEP}(?:[0-9]{{1,5}}[A-Z]?[ \t]+)?"
                  rf"(?:{_NAME_WORD}[ \t]+){{1,4}}{_SUFFIX}(?![\w@]){_EN_TAIL}")

_DE_UPPER = "A-ZÄÖÜ"
_DE_WORD = rf"[{_DE_UPPER}][\wäöüß'’\-]*"
_DE_NUMBER = r"[ \t]+[0-9]{1,4}[ \t]?[a-zA-Z]?(?:[ \t]?[-/][ \t]?[0-9]{1,4}[a-zA-Z]?)?(?![\w.,]?[0-9])"
_DE_TAIL = rf"(?:{_SEP}(?:D-)?[0-9]{{5}}[ \t]+{_DE_WORD}(?:[ \t](?:an[ \t]der|am|im|in[ \t]der|bei)?[ \t]?{_DE_WORD})?)"
_DE_STRONG = r"(?:[Ss]tra(?:ß|ss)e|[Ss]tr\.|[Ww]eg|[Gg]asse|[Aa]llee|[Pp]latz|[Dd]amm|[Uu]fer|[Cc]haussee|[Ss]teig|[Pp]fad|[Gg]raben|[Pp]romenade)"
_DE_PREP = r"(?:Am|An[ \t]der|An[ \t]den|Auf[ \t]der|Auf[ \t]dem|Im|In[ \t]der|In[ \t]den|Zum|Zur|Unter[ \t]den|Hinter[ \t]der|Vor[ \t]dem)"
DE_STREET = (rf"(?<![\w\-])(?:[{_DE_UPPER}][\wäöüß\-]*?(?:{_DE_STRONG}|-Ring)|(?:{_DE_WORD}[ \t])+{_DE_STRONG}"
             rf"|{_DE_PREP}[ \t]{_DE_WORD}){_DE_NUMBER}{_DE_TAIL}?")
# "-ring" compounds collide with English words (String 2, Spring 3): only with a postcode tail.
DE_RING_STREET = rf"(?<![\w\-])[{_DE_UPPER}][\wäöüß\-]*?ring{_DE_NUMBER}{_DE_TAIL}"

_FR_UPPER = "A-ZÀ-Ý"
_FR_WORD = rf"[{_FR_UPPER}][\wÀ-ÿ'’\-]*"
_FR_TYPE = (r"(?:[Rr]ue|[Aa]venue|[Aa]v\.|[Bb]oulevard|[Bb]d|[Cc]hemin|[Ii]mpasse|[Aa]llée|[Pp]lace|[Qq]uai|[Rr]oute"
            r"|[Cc]ours|[Pp]assage|[Ss]quare|[Vv]oie|[Ff]aubourg|[Ss]entier|[Vv]illa|[Cc]ité|[Ee]splanade)")
_FR_LINK = r"(?:de[ \t]la|de[ \t]l['’]|du|des|de|d['’]|la|le|les)"
_FR_TAIL = rf"(?:{_SEP}[0-9]{{5}}[ \t]+{_FR_WORD}(?:[ \t]{_FR_WORD}){{0,2}}(?:[ \t]Cedex(?:[ \t][0-9]{{1,2}})?)?)"
_FR_NAME = rf"{_FR_TYPE}[ \t]+(?:{_FR_LINK}[ \t]?)?{_FR_WORD}(?:[ \t](?:{_FR_LINK}[ \t]?)?{_FR_WORD}){{0,3}}"
FR_STREET = rf"\b[0-9]{{1,4}}(?:[ \t]?(?:bis|ter|[A-D]))?,?[ \t]+{_FR_NAME}{_FR_TAIL}?"
# Without a house number, a French street is an address only with its postcode and town.
FR_STREET_NO_NUMBER = rf"(?<![\w'’])(?<!\d,[ \t]){_FR_NAME}{_FR_TAIL}"

# US military mail (USPS Publication 28, section 225): "PSC 1234, Box 5678", "Unit 1234 Box 5678" or a ship
# ("USS Ortega") with APO/FPO/DPO and the AA/AE/AP "state" codes; no street, so the patterns above miss it.
US_MILITARY = (r"\b(?:(?:PSC|CMR|Unit)[ \t]+[0-9]{1,5},?[ \t]+Box[ \t]+[0-9]{1,5}"
               r"|(?:USS|USNS|USNV|USCGC)[ \t]+[A-Z][A-Za-z'’\-]+(?:[ \t][A-Z][A-Za-z'’\-]+){0,2})"
               r",?[ \t]+(?:APO|FPO|DPO)[ \t]+A[AEP][ \t]+[0-9]{5}(?:-[0-9]{4})?\b")

ADDRESS_CONTEXT = ["address", "live", "lives", "located", "street", "mail", "ship", "deliver", "adresse", "anschrift",
                   "wohnt", "wohnhaft", "domicile", "habite", "postal"]


def street_address_recognizer(language: str):
    """A Presidio PatternRecognizer for STREET_ADDRESS (US/UK/DE/FR formats), for one language."""
    from presidio_analyzer import Pattern, PatternRecognizer

    patterns = [
        Pattern("street_us_uk", US_UK_STREET, 0.6),
        Pattern("street_uk_flat", UK_FLAT_STREET, 0.6),
        Pattern("street_de", DE_STREET, 0.6),
        Pattern("street_de_ring", DE_RING_STREET, 0.6),
        Pattern("street_fr", FR_STREET, 0.6),
        Pattern("street_fr_no_number", FR_STREET_NO_NUMBER, 0.6),
        Pattern("us_military", US_MILITARY, 0.6),
    ]
    # Case matters here: capitalisation is what tells "12 Baker Street" from "12 baker streets".
    return PatternRecognizer(
        supported_entity="STREET_ADDRESS", patterns=patterns, context=ADDRESS_CONTEXT,
        supported_language=language, name=f"StreetAddressRecognizer_{language}", global_regex_flags=re.MULTILINE,
    )


# ----------------------------------------------------------------------------------- post-filters
_PERSON_BAD_CHARS = re.compile(r"[0-9_/\\=<>{}\[\]()#@$%^*|~:;+\"`&]")
_NAME_TOKEN = re.compile(
    r"^(?:[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿß'’]+(?:[-'’][A-ZÀ-ÖØ-Þ]?[a-zà-öø-ÿß]+)*"  # Smith, Jean-Pierre, O'Neil-ish
    r"|(?:Mc|Mac|O'|O’|D'|D’)[A-Z][a-zà-öø-ÿß]+"  # McDonald, O'Brien
    r"|[A-Z]\.?)$"  # initial
)
_NAME_PARTICLES = {"van", "von", "de", "der", "den", "da", "del", "della", "di", "du", "la", "le", "ten", "ter",
                   "bin", "al", "y", "zu", "dos", "das"}
# Words spaCy's small English model often tags as PERSON in technical text; none is a personal name.
_TECH_WORDS = {
    "apache", "nginx", "prometheus", "docker", "kubernetes", "linux", "debian", "ubuntu", "python", "django", "flask", "redis",
    "kafka", "spark", "hadoop", "github", "gitlab", "jenkins", "ansible", "terraform", "grafana", "postgres",
    "mysql", "sqlite", "numpy", "pandas", "jupyter", "kibana", "elasticsearch", "webpack", "babel", "rust",
    "golang", "java", "javascript", "typescript", "node", "npm", "pip", "conda", "bash", "zsh", "vim", "emacs",
    "systemd", "cron", "sudo", "ssh", "http", "https", "json", "yaml", "xml", "html", "css", "api", "sdk", "cli",
    "gpu", "cpu", "ram", "url", "uri", "utc", "gmt", "todo", "readme", "makefile", "dockerfile", "localhost",
    "hi", "hello", "dear", "thanks", "regards", "cheers", "ok", "okay", "yes", "no",
    # office and operating-system product names
    "microsoft", "excel", "powerpoint", "outlook", "windows", "macos", "android", "ios", "libreoffice",
    "openoffice", "calc", "impress", "writer", "firefox", "chrome", "safari", "thunderbird", "adobe", "acrobat",
    "photoshop", "google", "apple", "oracle", "sql", "basic", "vba", "unicode", "ascii", "wiki", "wikipedia",
    # key names
    "ctrl", "alt", "esc", "backspace", "cmd", "del", "pgup", "pgdn", "altgr", "maj", "strg", "entf",
}
_LOG_LINE = re.compile(
    r"^\s*(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\[?\d{2}:\d{2}:\d{2}|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2})"
    r"|\b(?:DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL|TRACE)\b"
)
_CODE_LINE = re.compile(
    r"^\s*(?:def|class|import|from|return|if|elif|for|while|const|let|var|function|public|private|static|"
    r"#include|package|func|fn|use)\b|[;{}]\s*$|=>|->|::|\(\)|\w\.\w+\(|==|!=|^\s*[$>] "
)
_VERSION_CONTEXT = re.compile(
    r"(?:\bv|\bversion|\brelease|\brev|\bbuild|\bkernel|\bpatch|\bupdate|\bupgrade|\bdowngrade|\bsdk|\bapi|"
    r"\bpython|\bnode|\bjava|\bfirmware|\bmodel)\s*[:=]?\s*$",
    re.IGNORECASE,
)
_NUMBER_ID_CONTEXT = re.compile(
    r"(?:\bisbn(?:-1[03])?|\border|\binvoice|\bticket|\bissue|\bserial|\bsku|\bpart|\bitem|\bbuild|\bversion|"
    r"\bcase|\btracking|\bref(?:erence)?|\bid|\bno\.?|\#"
    # German and French order, invoice, article, customer numbers ("Bestellnummer", "Kunden-Nr.", "facture n°")
    r"|\b(?:bestell|auftrags?|rechnungs|artikel|kunden|vorgangs|lieferschein|commande|facture|dossier)(?:nummer|-?nr\.?|n°)?)"
    r"\s*(?:number|no\.?|nr\.?|id|\#)?\s*[:=#]?\s*$",
    re.IGNORECASE,
)
_DOTTED_NUMBER = re.compile(r"^v?\d+(?:\.\d+){1,3}$")
_MONTHS = re.compile(
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|janv|févr|mars|avr|mai|juin|juil|août|sept|déc|"
    r"januar|februar|märz|juni|juli|august|oktober|dezember|monday|tuesday|wednesday|thursday|friday|saturday|sunday",
    re.IGNORECASE,
)


# Capitalised words of software manuals, menus, key names and headings, per language: spaCy's small models tag
# "click Insert", "press the Enter key", "Minimum, Maximum and Count", "Page Down" as people. A PERSON span is
# rejected when one of its words is listed here and every word is an ordinary word of the language (so a
# surname that is also a common noun, "Stuart Field", stays a name). Product names (`_TECH_WORDS`) reject any span.
UI_WORDS = {
    "en": frozenset("""
        add align all apply arrow attribute attributes back background bar base border borders bottom box browse
        button buttons calculate cancel cell cells center centre change character characters chart check
        choose clear click close code color colors colour column columns command commands comment complex
        condition connect contents control controls convert copy create current cursor custom cut data database
        date default define delete descending design dialog dialogue display document down drag draw edit editor
        effect end enter entry error escape example export file files fill filter find first font
        footer form format formatting formula formulas frame function functions general go graphic graphics grid
        group guide header heading help hide home horizontal icon image import index input insert item items
        keys label labels language last layout left level line lines link list lock macro macros mail main manage
        margin match maximum menu merge minimum mode modify module modules move name names navigator new next
        number object objects ok open option options order outline output paragraph paste path pause picture
        position preview previous print printer properties property range record redo reference refresh remove
        rename replace reset return returns right row rows run save scale script search section select
        selection send settings setup shape shapes sheet sheets shift shortcut show size slide sort source space
        spacing split standard start status stop string styles submit symbol table tables tab tabs template
        templates test text title toolbar tools top true false type undo up update user value values variable
        variant version vertical view window wizard word zoom mode
    """.split()),
    "de": frozenset("""
        abbrechen absatz ansicht anzeigen auswahl bearbeiten befehl bereich bild datei daten diagramm dialog
        drucken einfügen eingabe einstellungen ende entfernen extras fenster feld format formatvorlage formel
        formeln funktion funktionen hilfe löschen makro menü neu objekt öffnen optionen rahmen schließen schrift
        seite seiten speichern spalte spalten suchen symbol symbolleiste tabelle tabellen taste text vorlage
        zeile zeilen zelle zellen zurück weiter
    """.split()),
    "fr": frozenset("""
        affichage aide ajouter annuler aperçu bouton cadre cellule cellules colonne colonnes commande copier
        données édition enregistrer fenêtre feuille fichier format formule formules fonction fonctions image
        imprimer insertion ligne lignes menu modèle nouveau objet options ouvrir page paragraphe police
        rechercher sélection style supprimer tableau texte touche outils barre instruction
    """.split()),
}
# Titles that make a lone surname a person ("Dr. Weber", "Mme Martin").
_TITLES = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Mx|Dr|Prof|Sir|Dame|Herr|Frau|Fr|Hr|Mme|Mlle|M|Monsieur|Madame|"
                     r"Mademoiselle|Señor|Señora|Sr|Sra|Sig|Sig\.ra|Dott)\.?\s+)$")


def _line_at(text: str, start: int, end: int) -> str:
    ls = text.rfind("\n", 0, start) + 1
    le = text.find("\n", end)
    return text[ls: le if le >= 0 else len(text)]


def _in_backticks(text: str, start: int, end: int) -> bool:
    line = _line_at(text, start, end)
    ls = text.rfind("\n", 0, start) + 1
    return line[: start - ls].count("`") % 2 == 1


def model_lexicon(package: str) -> frozenset[str]:
    """Ordinary words of the NER model's language: the word lists its lemmatizer ships (en_core_web_sm: the
    WordNet-derived `lemma_index`, ~77k lemmas; fr_core_news_sm: `lemma_index` plus the inflected forms of its
    `lemma_lookup` table, ~300k, so "Spécifiez" is known as a verb). Empty when the package has none."""
    from pathlib import Path

    import spacy
    from spacy.lookups import Lookups

    try:
        root = Path(spacy.util.get_package_path(package))
    except Exception:
        return frozenset()
    words: set[str] = set()
    for path in sorted(root.glob("*/lemmatizer/lookups")):
        lookups = Lookups().from_disk(path)
        if lookups.has_table("lemma_index"):
            for lst in lookups.get_table("lemma_index").values():
                words.update(w for w in lst if w.isalpha())
        if lookups.has_table("lemma_lookup"):
            words.update(w.lower() for w in lookups.get_table("lemma_lookup").keys() if isinstance(w, str) and w.isalpha())
    return frozenset(words)


def _sentence_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t\"'“‘(":
        i -= 1
    return i < 0 or text[i] in "\n.!?:"


def _ordinary(word: str, lexicon: frozenset[str] | None) -> bool:
    """An ordinary (dictionary) word of the model's language, plural "-s" included."""
    if not lexicon:
        return False
    w = word.lower()
    return w in lexicon or (w.endswith("s") and w[:-1] in lexicon)


def _gerund(word: str, lexicon: frozenset[str] | None) -> bool:
    """An English -ing form of a dictionary verb ("Deleting", "Managing"): headings start with these."""
    w = word.lower()
    return bool(lexicon) and w.endswith("ing") and len(w) > 5 and (
        w[:-3] in lexicon or w[:-3] + "e" in lexicon or (len(w) > 6 and w[-4] == w[-5] and w[:-4] in lexicon))


def plausible_person(text: str, start: int, end: int, lexicon: frozenset[str] | None = None,
                     ui_words: frozenset[str] = frozenset(), single_word: bool = True,
                     stop_words: frozenset[str] = frozenset()) -> bool:
    """False for PERSON spans that are code identifiers, log fields, versions, tool or product names, UI words
    and headings ("Insert", "Page Down", "Shortcut Keys"), and for a lone word that is an ordinary word of the
    language ("Formula", "Color"). `single_word=False` (a model running on a language it was not trained on)
    keeps only multi-word names and titled surnames. A span holding a stop word of the document's language
    ("Klicken Sie", "Vielen Dank") is a phrase, not a name."""
    span = text[start:end]
    if _PERSON_BAD_CHARS.search(span) or "\n" in span:
        return False
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    # Part of a path, an e-mail address, a dotted or snake_case identifier, or a call.
    if before in "/\\@._-" or after in "/\\@_(" or (after == "." and end + 1 < len(text) and text[end + 1].isalnum()):
        return False
    if _in_backticks(text, start, end):
        return False
    tokens = [t.rstrip(",") for t in span.split()]
    if tokens and tokens[-1].endswith(("'s", "’s")):
        tokens[-1] = tokens[-1][:-2]
    tokens = [t for t in tokens if t]
    if not tokens:
        return False
    for t in tokens:
        if t.lower() in _NAME_PARTICLES:
            continue
        if not _NAME_TOKEN.match(t):  # ALL-CAPS log fields, camelCase identifiers, lower-case words
            return False
    name_tokens = [t for t in tokens if t.lower() not in _NAME_PARTICLES and len(t.rstrip(".")) > 1]
    if not name_tokens:
        return False
    lowered = [t.lower().rstrip(".") for t in name_tokens]
    if any(w in _TECH_WORDS or w in stop_words or "-" in w and any(p in _TECH_WORDS or p in ui_words
                                                                    for p in w.split("-")) for w in lowered):
        return False
    if any(w in ui_words for w in lowered):
        return False
    # Headings: "Deleting Page Breaks", "Exponential Smoothing" (a gerund among dictionary words).
    if _gerund(name_tokens[0], lexicon) or (
            any(_gerund(t, lexicon) for t in name_tokens) and all(_ordinary(t, lexicon) or _gerund(t, lexicon)
                                                                   for t in name_tokens)):
        return False
    if len(name_tokens) == 1:
        # A lone word is a name only after a title ("Dr. Weber"): measured on software documentation, lone
        # words the small models tag are almost all UI words, products and headings (bench/results/pii.md).
        if not _TITLES.search(text[max(0, start - 16):start]):
            return False
    line = _line_at(text, start, end)
    if (_LOG_LINE.search(line) or _CODE_LINE.search(line)) and len(name_tokens) < 2:
        return False
    return True


_ORG_WORDS = {
    "inc", "ltd", "llc", "plc", "corp", "co", "company", "corporation", "group", "gmbh", "ag", "sa", "sarl", "bv",
    "university", "college", "school", "institute", "academy", "bank", "club", "council", "society", "association",
    "committee", "museum", "library", "church", "foundation", "trust", "centre", "center", "hall", "hospital",
    "press", "studio", "studios", "records", "team", "fc", "united", "city", "county", "department", "ministry",
    "agency", "office", "services", "systems", "software", "technologies", "labs", "news", "times", "post",
    "partners", "holdings", "international", "global", "airlines", "motors", "energy", "media", "network",
}


def person_shaped_org(text: str, start: int, end: int, lexicon: frozenset[str] | None,
                      ui_words: frozenset[str] = frozenset()) -> bool:
    """spaCy's small English model tags many full names as ORG ("Chelsea Hughes", "Amélie Joly"). An ORG span
    of two or three name-shaped words, with no organisation word and a first word that is not an ordinary
    English word (so "Red Hat", "Google Cloud", "Apple Music" stay organisations), is read as a PERSON."""
    tokens = text[start:end].split()
    if not 2 <= len(tokens) <= 3:
        return False
    if any(t.lower().strip(".,") in _ORG_WORDS for t in tokens):
        return False
    if any(not _NAME_TOKEN.match(t) for t in tokens):
        return False
    first = tokens[0].rstrip(".")
    if len(first) < 2 or (lexicon and first.lower() in lexicon) or first.lower() in _TECH_WORDS:
        return False
    return plausible_person(text, start, end, lexicon, ui_words)


def plausible_date(text: str, start: int, end: int) -> bool:
    """False for DATE_TIME spans that are version numbers or bare numbers (a year alone identifies nobody)."""
    span = text[start:end].strip()
    if re.fullmatch(r"\d{1,4}", span):
        return False
    if _DOTTED_NUMBER.match(span):
        if span.startswith("v") or _VERSION_CONTEXT.search(text[max(0, start - 20):start]):
            return False
        parts = span.split(".")
        # 3.8.0 or 2.2.366 is a version: a date has a day <= 31, a month <= 12 and a 2- or 4-digit year.
        if len(parts) != 3 or not (int(parts[0]) <= 31 and int(parts[1]) <= 12 and len(parts[2]) in (2, 4)):
            return False
    if not re.search(r"\d", span) and not _MONTHS.search(span):
        return False  # "yesterday", "the spring", "each week"
    return True


def is_personal_ip(value: str, keep_private: bool) -> bool:
    """Public addresses are personal data; private, loopback, link-local, documentation ranges are not."""
    if not keep_private:
        return True
    try:
        ip = ipaddress.ip_interface(value.split("%", 1)[0]).ip
    except ValueError:
        return True
    return ip.is_global and not ip.is_multicast


def plausible_ip(text: str, start: int, end: int, keep_private: bool) -> bool:
    if _VERSION_CONTEXT.search(text[max(0, start - 20):start]):
        return False
    # 1.2.3.4.5 is an OID or a version, not an address.
    if (end < len(text) - 1 and text[end] == "." and text[end + 1].isdigit()) or (start > 1 and text[start - 1] == "." and text[start - 2].isdigit()):
        return False
    return is_personal_ip(text[start:end], keep_private)


def plausible_number(text: str, start: int, end: int) -> bool:
    """False for phone/card/SSN matches that an id keyword introduces (order no., ISBN, ticket #)."""
    return not _NUMBER_ID_CONTEXT.search(text[max(0, start - 24):start])


def plausible(entity: str, text: str, start: int, end: int, keep_private_ips: bool = True,
              lexicon: frozenset[str] | None = None, ui_words: frozenset[str] = frozenset(),
              single_word: bool = True, stop_words: frozenset[str] = frozenset()) -> bool:
    if entity == "PERSON":
        return plausible_person(text, start, end, lexicon, ui_words, single_word, stop_words)
    if entity == "DATE_TIME":
        return plausible_date(text, start, end)
    if entity == "IP_ADDRESS":
        return plausible_ip(text, start, end, keep_private_ips)
    if entity in ("PHONE_NUMBER", "US_SSN"):  # a card's checksum and shape decide alone (card_recognizer)
        return plausible_number(text, start, end)
    return True


# ------------------------------------------------------------------------------------------- cards
# Payment card numbers are 12-19 digits (ISO/IEC 7812-1) ending in a Luhn check digit; the first digit (major
# industry identifier) of the cards people carry is 1-6 (airline/UATP 1, Mastercard 2/5, Amex/Diners/JCB 3,
# Visa 4, Discover/Maestro/UnionPay 6). Written plain or in groups with one separator throughout: 4-4-4-4,
# 4-4-4-4-3 (19 digits), 4-6-5 (Amex), 4-6-4 (Diners), 4-4-4 (12-digit Maestro). No surrounding word is needed
# and none suppresses a match: the checksum and the shape decide.
CARD_PATTERN = (r"(?<![\w+.,/\-])(?:[1-6][0-9]{11,18}"
                r"|[1-6][0-9]{3}(?P<sep>[ \-])[0-9]{4,6}(?:(?P=sep)[0-9]{3,6}){0,2}(?:(?P=sep)[0-9]{1,4})?)"
                r"(?![\w\-]|[.,/][0-9])")
CARD_CONTEXT = ["credit", "card", "visa", "mastercard", "amex", "cc", "debit", "carte", "karte", "kreditkarte",
                "tarjeta", "carta", "cartão", "kaart", "paid", "pay", "charge", "payment"]


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_digits_valid(value: str) -> bool:
    """12-19 digits with a valid Luhn check digit, and not one digit repeated (0000 0000 0000 0000)."""
    digits = re.sub(r"[^0-9]", "", value)
    return 12 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits)


def card_recognizer(language: str):
    """A Presidio PatternRecognizer for CREDIT_CARD: shape (CARD_PATTERN) plus checksum; a valid number scores
    1.0, anything else is discarded. Replaces Presidio's CreditCardRecognizer, whose pattern misses 12-, 17-, 18-
    and 19-digit cards and the 2-series Mastercard / 2131 JCB prefixes."""
    from presidio_analyzer import Pattern, PatternRecognizer

    class CardRecognizer(PatternRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return card_digits_valid(pattern_text)

    return CardRecognizer(supported_entity="CREDIT_CARD", patterns=[Pattern("card 12-19 digits", CARD_PATTERN, 0.3)],
                          context=CARD_CONTEXT, supported_language=language, name=f"CardRecognizer_{language}")


# ------------------------------------------------------------------------------------------ phones
# A run of digits with phone punctuation between them; the phonenumbers matcher then decides.
_PHONE_CANDIDATE = re.compile(r"[+(]?\d(?:(?:[ \t().\-]{1,3}|/)?\d)+")
# Shorter runs (years, counts, times) are never a full phone number; longer ones are account or card numbers
# (E.164 allows 15 digits at most; extensions are separate runs).
_PHONE_MIN_DIGITS, _PHONE_MAX_DIGITS = 7, 15
# Digit runs with the shape of something else: an IPv4 address, an ISO date or timestamp, a dashed SSN.
_NOT_PHONE = re.compile(r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}"
                        r"|\d{4,5}-\d{2}-\d{2}(?:[ T\-]\d{2})?|\d{3}-\d{2}-\d{4}"  # 2004-11-29-21:10, 32767-12-31
                        r"|\d{1,2}([./-])\d{1,2}\1\d{2,4}"  # 17-04-1974, 22.11.1999
                        r"|\d{1,3}\.\d{5,}"  # a decimal fraction: 2.71828182845904
                        r"|\d{1,2}(?:\.\d{3}){2,}")  # dotted thousands (de/fr/es/it): 2.147.483.648
_PHONE_MARGIN = 12
_GLUED_AFTER = re.compile(r"(?![xX]\d|[eE][xX][tT])[^\W\d_]")  # a letter, not the start of an extension


def phone_windows(text: str) -> list[tuple[int, int]]:
    """Merged windows around digit runs long enough to be a phone number (with margins for prefixes such as
    "+", "(", "tel:" and extensions such as "x1234")."""
    windows: list[tuple[int, int]] = []
    for m in _PHONE_CANDIDATE.finditer(text):
        run = m.group(0)
        if not _PHONE_MIN_DIGITS <= sum(c.isdigit() for c in run) <= _PHONE_MAX_DIGITS or _NOT_PHONE.fullmatch(run):
            continue
        # Glued to a letter (0x80070057, GB82ZFNX5969...): an identifier; the matcher rejects these too. So is a
        # run a letter follows ("rc[0123456S].d", serial 07032998B60AB777), unless it is an extension (x12, ext.).
        if m.start() > 0 and text[m.start() - 1].isalpha() or _GLUED_AFTER.match(text, m.end()):
            continue
        # A negative number (-2147483648, -327680101): phone numbers are never signed.
        if m.start() > 0 and text[m.start() - 1] in "-\u2212" and (m.start() < 2 or not text[m.start() - 2].isalnum()):
            continue
        # The fraction of a decimal number, written with a comma in most European languages: 0,9319331609.
        if m.start() > 1 and text[m.start() - 1] in ",." and text[m.start() - 2].isdigit():
            continue
        s, e = max(0, m.start() - _PHONE_MARGIN), min(len(text), m.end() + _PHONE_MARGIN)
        # Never cut inside a word: the matcher looks at the characters around a candidate.
        while s > 0 and not text[s - 1].isspace():
            s -= 1
        while e < len(text) and not text[e].isspace():
            e += 1
        if windows and s <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(e, windows[-1][1]))
        else:
            windows.append((s, e))
    return windows


# Shapes that say "phone number" without the number being assigned: an international prefix ("+44", "0049",
# "001-"), or the North American Numbering Plan layout (area and exchange codes start with 2-9; groups 3-3-4
# written with dashes, dots, spaces or an area code in parentheses), with an optional extension.
_INTERNATIONAL = re.compile(r"^(?:\+|00)[1-9]")
_NANP_FORMATTED = re.compile(r"^(?:(?:\+?1|001)[-. ]?)?(?:\([2-9]\d{2}\)[-. ]?|[2-9]\d{2}[-. ])[2-9]\d{2}[-. ]\d{4}$")
# A national number shorter than this is a local number (no area code), which a count or a code also fits.
_PHONE_MIN_NATIONAL = 9
PHONE_SHAPE_SCORE = 0.5  # formatted like a phone number but not (yet) assigned: above the 0.4 phone threshold
PHONE_PLAIN_SCORE = 0.3  # a bare digit run of possible length: only with a context word (+0.35) it counts


def phone_shape_score(raw: str, national_number: int) -> float:
    """Score of a number that libphonenumber finds possible (right length for its region) but not valid
    (unassigned range): 0 for a local number, PHONE_SHAPE_SCORE when written the way phone numbers are
    written, PHONE_PLAIN_SCORE for a bare digit run."""
    if len(str(national_number)) < _PHONE_MIN_NATIONAL:
        return 0.0
    body = re.split(r"\s*(?:x|ext\.?|extension|#)\s*\d+$", raw.strip(), flags=re.IGNORECASE)[0]
    if body.startswith("(") and (body.endswith(")") and body.count("(") == 1 or ")" not in body):
        body = body.strip("()")  # "(889.680.7140)", or the matcher's "(889.680.7140"
    if _INTERNATIONAL.match(body.lstrip("(")) or _NANP_FORMATTED.match(body):
        return PHONE_SHAPE_SCORE
    if "." in body:  # dots outside the NANP layout: versions, decimals, dates
        return 0.0
    if re.search(r"[ ().\-]", body):
        return PHONE_SHAPE_SCORE if body.lstrip("(").startswith("0") else PHONE_PLAIN_SCORE
    return PHONE_PLAIN_SCORE


# The national layout of DIN 5008 and its neighbours: trunk prefix 0, an area code (in parentheses, or followed
# by a space, slash or dash), a subscriber number; or "+CC (0)" before the area code. libphonenumber rejects
# such a number when its area code is unassigned ("00983 94506", "(00695) 293371", "+49(0)0050 788592"), yet it
# is written as a phone number: it scores PHONE_PLAIN_SCORE, so only a context word ("Tel.", "anrufen") lifts
# it over the threshold. Dotted groups (dates, versions) never match; id words (order no.) veto as elsewhere.
_TRUNK_LAYOUT = re.compile(r"(?<![\w+.,/\-])(?:\+[1-9]\d{0,2}[ ]?\(0\)[ ]?\d{2,5}[ /\-]?|\(0\d{2,5}\)[ ]?|0\d{2,5}[ /\-])"
                           r"\d{3,8}(?![\w\-]|[.,/]\d)")


def trunk_layout_spans(text: str) -> list[tuple[int, int, float]]:
    """(start, end, score) of `_TRUNK_LAYOUT` numbers with 7-13 digits: PHONE_SHAPE_SCORE with an international
    prefix ("+49 (0)"), as `phone_shape_score` scores "+CC" numbers; PHONE_PLAIN_SCORE otherwise."""
    return [(m.start(), m.end(), PHONE_SHAPE_SCORE if m.group(0).startswith("+") else PHONE_PLAIN_SCORE)
            for m in _TRUNK_LAYOUT.finditer(text) if 7 <= sum(c.isdigit() for c in m.group(0)) <= 13]


def national_prefix(region: str) -> str | None:
    import phonenumbers

    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return meta.national_prefix if meta is not None else None


def fast_phone_recognizer(language: str, context: list[str], regions: tuple[str, ...]):
    """Presidio's PhoneRecognizer, run by the phonenumbers matcher only on windows around digit runs of 7+
    digits. Presidio's version parses and validates every digit group of the text once per region (years,
    counts, times), which made it the most expensive recognizer; its matches are all kept (tested).

    On top of those (numbers libphonenumber says are assigned), a number that is only *possible* (right length
    for the region, e.g. an unassigned US area code or a drama/fiction range) counts by its shape
    (`phone_shape_score`): libphonenumber's validity tables lag behind numbering plans, and an unassigned
    number written as a phone number is still somebody's number in text. Context words add to either score."""
    import phonenumbers
    from presidio_analyzer import EntityRecognizer, RecognizerResult
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    possible = phonenumbers.Leniency.POSSIBLE

    class WindowedPhoneRecognizer(PhoneRecognizer):
        def analyze(self, text, entities, nlp_artifacts=None):
            results = []
            for ws, we in phone_windows(text):
                window = text[ws:we]
                for region in self.supported_regions:
                    trunk = national_prefix(region)
                    for match in phonenumbers.PhoneNumberMatcher(window, region, leniency=possible):
                        raw = match.raw_string.lstrip("(")
                        # In a country with trunk prefix "0" (GB, DE, FR, NL, ...) a number written without
                        # "+"/"00" starts with 0; "2024 2024" or "327680101" there is a count or a code.
                        if trunk == "0" and not raw.startswith(("0", "+")):
                            continue
                        valid = phonenumbers.is_valid_number(match.number)
                        # A bare run of under 10 digits is valid somewhere (an Italian mobile, a French
                        # number without its 0) far more often than it is a phone: context must lift it.
                        if valid and raw.isdigit() and len(raw) < 10:
                            valid, score = False, PHONE_PLAIN_SCORE
                        elif not valid:
                            score = phone_shape_score(match.raw_string, match.number.national_number)
                            if score <= 0:
                                continue
                        r = self._get_recognizer_result(match, window, region, nlp_artifacts)
                        if not valid:
                            r.score = score
                        r.start += ws
                        r.end += ws
                        results.append(r)
                for s, e, score in trunk_layout_spans(window):
                    s, e = s + ws, e + ws
                    if all(e <= r.start or s >= r.end for r in results):
                        results.append(RecognizerResult(
                            entity_type="PHONE_NUMBER", start=s, end=e, score=score,
                            analysis_explanation=self._get_analysis_explanation("trunk layout"),
                            recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                                  RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
            return EntityRecognizer.remove_duplicates(results)

    return WindowedPhoneRecognizer(supported_language=language, context=context, supported_regions=regions)


# ------------------------------------------------------------------------- names from word clusters
# For a language without an installable NER model (German: no spaCy 3.8 pipeline on PyPI), names are found
# with two word lists that spacy-lookups-data ships (pinned 1.0.5; nothing is downloaded at run time):
#   * Brown clusters (`<lang>_lexeme_cluster`, 1M words of web text grouped by the contexts they occur in). Some
#     clusters hold given names and some surnames, because names share contexts ("Herr __", "__ sagte").
#     Chosen by reading the 14 most frequent members of every cluster whose bit path ends in 000 (the proper-noun
#     subtree), never from any evaluation data: e.g. 248 = Peter Michael Thomas Martin Andreas Klaus Paul ...,
#     24 = Mark Maria Johannes Anna Marco Barbara Eva ..., 40 = Müller Schmidt Fischer Wolf Schwarz ....
#   * the lemmatizer's lookup table (`<lang>_lemma_lookup`, ~355k German word forms): an ordinary word is a
#     listed form, or a lemma with forms beyond the genitive "-s" (Datei -> Dateien; a name has only "Müllers").
# German capitalises every noun, so a capitalised pair is a name only with evidence: its first word is in a
# given-name cluster ("Almuth Förster"), or its second word is in a surname cluster and the first is no
# ordinary word ("Gislinde Kabus"), or it follows a title/role word or sits right before a phone, e-mail or
# street ("Ansprechpartnerin ist Ehrentraud Flantz (e-mail)"), handled by the caller.
NAME_CLUSTERS = {
    "de": {"given": frozenset({24, 56, 120, 248, 376, 504, 888}), "surname": frozenset({8, 40})},
    # English: the clusters holding 20 of 20 common given names ("John", "Mary", "James", ...) and 15 of 20
    # common surnames ("Smith", "Johnson", ...); a second opinion beside the NER model (pii.name_lexicons).
    "en": {"given": frozenset({502, 1014}), "surname": frozenset({86})},
}
NAME_SCORE = 0.85  # as a spaCy PERSON entity (pii.NER_SCORE)
WEAK_NAME_SCORE = 0.3  # a pair of unknown capitalised words: below the PERSON threshold unless context lifts it
# Words before a name that say a person follows (same sentence, within NAME_CONTEXT_CHARS).
NAME_CONTEXT = {
    "de": re.compile(r"\b(?:Herrn?|Frau|Dr|Prof|Ansprechpartner(?:in)?|Kontakt(?:person)?|Verfasser(?:in)?|"
                     r"Autor(?:in)?|Mitarbeiter(?:in)?|Kolleg(?:e|in|en)|Inhaber(?:in)?|Geschäftsführer(?:in)?|"
                     r"Sachbearbeiter(?:in)?|Vertreter(?:in)?|gez|Dank an|Grüße|Gruß)\b\.?[^.!?\n]*$"),
}
NAME_CONTEXT_CHARS = 48
_CAP_WORD = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿß]+(?:-[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿß]+)?"
# A run of capitalised words (and name particles) on one line, separated by single spaces.
_CAP_RUN = re.compile(rf"(?<![\w\-'’.]){_CAP_WORD}(?:[ ](?:(?:von|van|de|der|den|zu|vom|ten|ter)[ ])*{_CAP_WORD})*(?![\w\-])")


class NameLexicon:
    """Given-name and surname clusters and ordinary words of one language (see NAME_CLUSTERS)."""

    def __init__(self, language: str):
        import gzip
        import json
        from pathlib import Path

        import spacy_lookups_data

        data = Path(spacy_lookups_data.__file__).parent / "data"
        ids = NAME_CLUSTERS[language]
        with gzip.open(data / f"{language}_lexeme_cluster.json.gz", "rt", encoding="utf-8") as f:
            clusters = _cluster_members(f.read(), ids["given"] | ids["surname"])
        self.given = frozenset(w for w, c in clusters if c in ids["given"] and w[:1].isupper())
        self.surname = frozenset(w for w, c in clusters if c in ids["surname"] and w[:1].isupper())
        with gzip.open(data / f"{language}_lemma_lookup.json.gz", "rt", encoding="utf-8") as f:
            lookup = json.load(f)
        forms: dict[str, set] = {}
        for form, lemma in lookup.items():
            forms.setdefault(lemma, set()).add(form)
        # Lower-case entries (verbs, adjectives, adverbs: "Findet", "Untere" capitalised) and the other forms
        # (nouns, "Dateien"), kept apart so that no form is stored twice.
        self._lower = frozenset(w for w in set(lookup) | set(forms) if w.islower())
        self._forms = frozenset(w for w in lookup if not w.islower())
        # Lemmas with inflected forms beyond the genitive: ordinary nouns (a name's only form is "Müllers").
        self._inflected = frozenset(lemma for lemma, fs in forms.items() if fs - {lemma + "s"})

    def is_given(self, word: str) -> bool:
        """A word of a given-name cluster, or a double given name whose first part is one ("Hans-Ludwig")."""
        return word in self.given or ("-" in word and word.split("-", 1)[0] in self.given)

    def ordinary(self, word: str) -> bool:
        """A word of the language's dictionary: a listed inflected form, a lemma that inflects, or, capitalised
        at a sentence start or in a heading, a lower-case word (verb, adjective)."""
        return word in self._forms or word in self._inflected or word.lower() in self._lower


def _cluster_members(text: str, wanted: frozenset[int]) -> list[tuple[str, int]]:
    """(word, cluster) of the clusters in `wanted` from a lexeme-cluster JSON object written one entry per line
    (spacy-lookups-data's layout), without building the whole dict: a million entries took ~140 MB at the peak
    and left ~70 MB behind in the process. Any other layout is parsed whole."""
    import json

    ends = re.compile(r'":\s*(' + "|".join(str(c) for c in sorted(wanted)) + r')\s*[,}\n]')
    entry = re.compile(r'\s*"((?:[^"\\]|\\.)*)":\s*(\d+)')
    found = []
    for m in ends.finditer(text):
        e = entry.match(text, text.rfind("\n", 0, m.start()) + 1)
        if e is None or e.start(2) != m.start(1):
            return [(w, c) for w, c in json.loads(text).items() if c in wanted]
        found.append((json.loads(f'"{e.group(1)}"'), int(e.group(2))))
    return found


_LEXICONS: dict[str, NameLexicon] = {}


def name_lexicon(language: str) -> NameLexicon:
    """One NameLexicon per language and process (loading takes a few seconds)."""
    if language not in _LEXICONS:
        _LEXICONS[language] = NameLexicon(language)
    return _LEXICONS[language]


_PARTICLE_RE = re.compile(r"(?:von|van|de|der|den|zu|vom|ten|ter)$")
_TITLE_BEFORE = re.compile(r"\b(?:Herrn?|Frau|Hr\.|Fr\.|Dr\.|Prof\.)[ ]$")


def name_spans(text: str, lexicon: NameLexicon, context: re.Pattern | None,
               excluded: frozenset[str] = frozenset(), given_only: bool = False) -> list[tuple[int, int, float]]:
    """(start, end, score) of the names in `text` by the NAME_CLUSTERS evidence: a capitalised word from a
    given-name cluster and the one or two capitalised words after it ("Hans-Ludwig Seidel", "Anna Maria Roth",
    "Miriam van der Dussen"); a word that is no ordinary word before a surname-cluster word; a titled word
    ("Frau Kabus"). Any other pair of capitalised words whose first is no ordinary word scores WEAK_NAME_SCORE,
    or NAME_SCORE after a `context` word. Words in `excluded` (stop words, UI words, lower-cased) end a name.
    `given_only`: the given-name evidence alone (beside an NER model, which finds the rest: the other rules
    need a dictionary of ordinary words that the English lookups lack for base forms, "Different Page")."""
    found: list[tuple[int, int, float]] = []
    for run in _CAP_RUN.finditer(text):
        words = [(m.start() + run.start(), m.end() + run.start(), m.group(0))
                 for m in re.finditer(r"\S+", run.group(0))]
        names = [(s, e, w) for s, e, w in words if not _PARTICLE_RE.match(w)]
        i = 0
        while i < len(names):
            s, e, w = names[i]
            if w.lower() in excluded:
                i += 1
                continue
            rest = []
            for s2, e2, w2 in names[i + 1:i + 3]:
                # (beside an NER model even the first word after a given name: "Mark Changes" is a menu entry)
                if w2.lower() in excluded or (rest or given_only) and lexicon.ordinary(w2) and w2 not in lexicon.surname:
                    break
                rest.append((s2, e2, w2))
            score = 0.0
            if rest and lexicon.is_given(w):
                score = NAME_SCORE
            elif given_only:
                pass
            elif rest and rest[0][2] in lexicon.surname and not lexicon.ordinary(w):
                score, rest = NAME_SCORE, rest[:1]
            elif not rest and _TITLE_BEFORE.search(text, max(0, s - 6), s):
                score = NAME_SCORE
            elif rest and not lexicon.ordinary(w):
                rest = rest[:1]
                ctx = context.search(text, max(0, s - NAME_CONTEXT_CHARS), s) if context else None
                score = NAME_SCORE if ctx or _TITLE_BEFORE.search(text, max(0, s - 6), s) else WEAK_NAME_SCORE
            if score:
                end = rest[-1][1] if rest else e
                found.append((s, end, score))
                i += 1 + len(rest)
            else:
                i += 1
    return found


def lexicon_accepts(span: str, lexicon: NameLexicon) -> bool:
    """The check on a name another language's NER model found (pii.ner_fallback): the cluster evidence of
    `name_spans`, i.e. two or more words, the first a given name, or no ordinary word before a surname. A looser
    check (first word no ordinary word) still left placeholders in 16% of German documents without personal
    data: compounds ("Markierfeld Leerzellen") are in no dictionary (bench/results/pii.md)."""
    words = span.split()
    return len(words) >= 2 and (lexicon.is_given(words[0]) or (
        not lexicon.ordinary(words[0]) and words[-1] in lexicon.surname))


def name_excluded(language: str, stop_words: frozenset[str]) -> frozenset[str]:
    """Words that end a name in `name_spans`: stop words, UI words (the language's and English), product names."""
    return frozenset(stop_words) | UI_WORDS.get(language, frozenset()) | UI_WORDS["en"] | _TECH_WORDS


def cluster_names(text: str, language: str, excluded: frozenset[str], given_only: bool = False):
    """`name_spans` with the language's lexicon and context words: what ClusterNameRecognizer reports, and what
    the PII stage looks for inside a model's span that is no name."""
    return name_spans(text, name_lexicon(language), NAME_CONTEXT.get(language), excluded, given_only)


def cluster_name_recognizer(language: str, stop_words: frozenset[str], given_only: bool = False):
    """A Presidio recognizer for PERSON from `name_spans` (the lexicon loads at the first call). Stop words, UI
    words (the language's and English) and product names end a name. `given_only`: see `name_spans`."""
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    excluded = name_excluded(language, stop_words)

    class ClusterNameRecognizer(EntityRecognizer):
        def load(self) -> None:
            return None

        def analyze(self, text, entities, nlp_artifacts=None):
            if "PERSON" not in entities:
                return []
            spans = cluster_names(text, language, excluded, given_only)
            return [RecognizerResult("PERSON", s, e, score) for s, e, score in spans]

    return ClusterNameRecognizer(supported_entities=["PERSON"], supported_language=language,
                                 name=f"ClusterNameRecognizer_{language}")
