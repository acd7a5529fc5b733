"""Recognizers and false-positive rules the PII stage adds to Presidio's.

* `StreetAddressRecognizer`: Presidio ships no street-address recognizer. This one matches postal street
  lines in the US and UK (house number, street name, USPS Publication 28 Appendix C1 street suffix, unit),
  German (``Hauptstraße 12``, ``Am Markt 5``) and French (``12, rue de la Paix``) formats, with an optional
  postcode/city tail.
* `plausible(...)`: post-filters for the false positives Presidio users report (numbers, versions, log lines
  and code identifiers tagged as PERSON or DATE_TIME; version strings read as IP addresses; order numbers read
  as phone numbers), and the public/private IP rule (private, loopback, link-local and documentation ranges
  are not personal data and stay, as datatrove's PII formatter keeps them).

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
    r"\bcase|\btracking|\bref(?:erence)?|\bid|\bno\.?|\#)\s*(?:number|no\.?|nr\.?|id|\#)?\s*[:=#]?\s*$",
    re.IGNORECASE,
)
_DOTTED_NUMBER = re.compile(r"^v?\d+(?:\.\d+){1,3}$")
_MONTHS = re.compile(
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|janv|févr|mars|avr|mai|juin|juil|août|sept|déc|"
    r"januar|februar|märz|juni|juli|august|oktober|dezember|monday|tuesday|wednesday|thursday|friday|saturday|sunday",
    re.IGNORECASE,
)


def _line_at(text: str, start: int, end: int) -> str:
    ls = text.rfind("\n", 0, start) + 1
    le = text.find("\n", end)
    return text[ls: le if le >= 0 else len(text)]


def _in_backticks(text: str, start: int, end: int) -> bool:
    line = _line_at(text, start, end)
    ls = text.rfind("\n", 0, start) + 1
    return line[: start - ls].count("`") % 2 == 1


def model_lexicon(package: str) -> frozenset[str]:
    """Ordinary words of the NER model's language: the WordNet-derived word lists its rule lemmatizer ships
    (en_core_web_sm: ~90k nouns, verbs, adjectives, adverbs). Empty when the package has none."""
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
    return frozenset(words)


def _sentence_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t\"'“‘(":
        i -= 1
    return i < 0 or text[i] in "\n.!?:"


def plausible_person(text: str, start: int, end: int, lexicon: frozenset[str] | None = None) -> bool:
    """False for PERSON spans that are code identifiers, log fields, versions or tool names, and for a lone
    ordinary word that spaCy's small model tags because it is capitalised at the start of a sentence."""
    span = text[start:end]
    if _PERSON_BAD_CHARS.search(span):
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
    if len(name_tokens) == 1 and name_tokens[0].lower() in _TECH_WORDS:
        return False
    if (len(tokens) == 1 and lexicon and tokens[0].lower() in lexicon and _sentence_initial(text, start)):
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


def person_shaped_org(text: str, start: int, end: int, lexicon: frozenset[str] | None) -> bool:
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
    return plausible_person(text, start, end, lexicon)


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
              lexicon: frozenset[str] | None = None) -> bool:
    if entity == "PERSON":
        return plausible_person(text, start, end, lexicon)
    if entity == "DATE_TIME":
        return plausible_date(text, start, end)
    if entity == "IP_ADDRESS":
        return plausible_ip(text, start, end, keep_private_ips)
    if entity in ("PHONE_NUMBER", "CREDIT_CARD", "US_SSN"):
        return plausible_number(text, start, end)
    return True


# ------------------------------------------------------------------------------------------ phones
# A run of digits with phone punctuation between them; the phonenumbers matcher then decides.
_PHONE_CANDIDATE = re.compile(r"[+(]?\d(?:(?:[ \t().\-]{1,3}|/)?\d)+")
# Shorter runs (years, counts, times) are never a full phone number; longer ones are account or card numbers
# (E.164 allows 15 digits at most; extensions are separate runs).
_PHONE_MIN_DIGITS, _PHONE_MAX_DIGITS = 7, 15
# Digit runs with the shape of something else: an IPv4 address, an ISO date or timestamp, a dashed SSN.
_NOT_PHONE = re.compile(r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}"
                        r"|\d{4}-\d{2}-\d{2}(?:[ T]\d{2})?|\d{3}-\d{2}-\d{4}")
_PHONE_MARGIN = 12


def phone_windows(text: str) -> list[tuple[int, int]]:
    """Merged windows around digit runs long enough to be a phone number (with margins for prefixes such as
    "+", "(", "tel:" and extensions such as "x1234")."""
    windows: list[tuple[int, int]] = []
    for m in _PHONE_CANDIDATE.finditer(text):
        run = m.group(0)
        if not _PHONE_MIN_DIGITS <= sum(c.isdigit() for c in run) <= _PHONE_MAX_DIGITS or _NOT_PHONE.fullmatch(run):
            continue
        # Glued to a letter (0x80070057, GB82ZFNX5969...): an identifier; the matcher rejects these too.
        if m.start() > 0 and text[m.start() - 1].isalpha():
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


def fast_phone_recognizer(language: str, context: list[str], regions: tuple[str, ...]):
    """Presidio's PhoneRecognizer, run by the phonenumbers matcher only on windows around digit runs of 7+
    digits. Presidio's version parses and validates every digit group of the text once per region (years,
    counts, times), which made it the most expensive recognizer; the matches are the same (tested)."""
    import phonenumbers
    from presidio_analyzer import EntityRecognizer
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    class WindowedPhoneRecognizer(PhoneRecognizer):
        def analyze(self, text, entities, nlp_artifacts=None):
            results = []
            for ws, we in phone_windows(text):
                window = text[ws:we]
                for region in self.supported_regions:
                    for match in phonenumbers.PhoneNumberMatcher(window, region, leniency=self.leniency):
                        r = self._get_recognizer_result(match, window, region, nlp_artifacts)
                        r.start += ws
                        r.end += ws
                        results.append(r)
            return EntityRecognizer.remove_duplicates(results)

    return WindowedPhoneRecognizer(supported_language=language, context=context, supported_regions=regions)
