"""A labelled PII evaluation set: Faker values injected into prose at known character spans.

Values come from Faker in four locales (en_US, en_GB, de_DE, fr_FR); the prose around them is written for this
project (English, German, French paragraphs about everyday work, plus technical lines full of things that are
*not* personal data: versions, log lines, code identifiers, private IPs, order numbers, ISBNs). Everything is
drawn from one seeded `random.Random` and seeded Faker instances, so the same seed gives the same set.

Two honest adjustments to raw Faker output, both about realism rather than about our detector:
  * phone numbers are redrawn until `phonenumbers` says the number is valid in the locale's region (Faker
    fills digits at random, and a number no network could assign is nobody's number);
  * card numbers come from the four big networks at their usual lengths (Visa 16, Mastercard, Amex, Discover).

`score()` matches predictions to truth by type and overlap; `vanilla_presidio()` builds the baseline the
benchmark compares against: Presidio's own per-document loop with the full spaCy pipeline.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

ENTITY_TYPES = ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN",
                "STREET_ADDRESS"]
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR"]
_REGION = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR"}

EN_PROSE = [
    "The river was higher than usual this spring, and the footpath along the bank stayed closed for two weeks.",
    "Most of the volunteers arrived early to set up the tables and the coffee urns before the doors opened.",
    "The library keeps its reading room open late on Thursdays, when students crowd in before their exams.",
    "A good loaf needs time more than it needs skill, and the dough should rest overnight in a cool place.",
    "We replaced the old boiler in October, which cut the heating bill by almost a third over the winter.",
    "The committee agreed to repaint the hall before the summer fair and to fix the leaking gutter first.",
    "Children from the primary school planted a row of apple trees along the edge of the playing field.",
    "The museum's new wing shows tools and clothing from farms that once covered the whole valley.",
    "After the storm, the council cleared fallen branches from the main road within a single morning.",
    "Our choir rehearses every Tuesday evening and welcomes new singers whether or not they read music.",
    "The bakery on the corner sells out of rye bread by ten, so regular customers order the day before.",
    "Train services were reduced during the works, and a replacement bus ran every half hour instead.",
    "The report recommends more benches in the park and better lighting on the path to the station.",
    "Each spring the allotment society holds a seed swap, and the best tomatoes are always gone first.",
    "The cycling club meets at the market square on Sunday mornings and rides out towards the hills.",
    "Visitors are asked to keep dogs on a lead near the lake, where swans nest among the reeds.",
    "The theatre group staged a comedy this year, and all four evenings sold out within a week.",
    "Parents helped to build the new climbing frame over two weekends, with timber from a local mill.",
    "The old mill now houses a small brewery, a pottery studio and a shop selling local cheese.",
    "Snow closed the mountain pass for three days, and the village relied on its own supplies.",
    "The annual walk raised enough money to repair the roof of the community centre.",
    "Our newsletter comes out four times a year and lists events, opening times and club news.",
    "The harvest festival ended with a long table in the square and music until midnight.",
    "A new pedestrian crossing near the school has made the morning walk much safer for families.",
    "The chess club has grown so much that it now needs a second room on Friday nights.",
    "Heavy rain flooded the lower field, so the football match moved to the pitch behind the church.",
    "The recycling centre now accepts old electronics, batteries and cooking oil on weekdays.",
    "Several shops on the high street extended their opening hours during the festive season.",
    "The beekeepers reported a good year, with more honey than they had collected in a decade.",
    "Cooks in the community kitchen prepare about two hundred meals a week for older residents.",
    "The bridge inspection found only minor wear, and repairs are planned for the autumn.",
    "Most members prefer the later start time, so meetings will begin at half past seven from now on.",
    "The orchard trust prunes the old pear trees in February, before the sap starts to rise.",
    "Local artists showed paintings, prints and ceramics in the empty shop unit for a month.",
    "The ferry timetable changes in winter, when only three crossings run each day.",
    "A survey of the meadow counted more than forty kinds of wild flowers and grasses.",
    "The youth orchestra will tour three towns in the region during the summer holidays.",
    "Firefighters gave a short talk on smoke alarms and left leaflets for every household.",
    "The sports hall floor was sanded and sealed, so indoor games resume next month.",
    "Rainwater from the roof now fills two large tanks that water the community garden.",
]
EN_TECH = [
    "The service was upgraded to version 2.4.1 last week, and the release notes list three bug fixes.",
    "2023-11-04 08:15:22 INFO Starting worker pool with 4 processes",
    "2023-11-04 08:15:23 WARNING Retrying connection to cache at 10.0.0.12:6379",
    "Call getUserName() before saveProfile() so that the cache key is set.",
    "Run pip install requests==2.31.0 inside the virtual environment.",
    "The build server at 192.168.1.20 mirrors the packages for the office network.",
    "Open the file config/settings.yaml and set max_workers to 8.",
    "Kubernetes schedules the pods, and Prometheus scrapes their metrics every 15 seconds.",
    "The ISBN of the second edition is 978-0-306-40615-7.",
    "Order number 4481-2290-1137 shipped on 12 March, in two boxes of 24 units.",
    "The test suite passed on Python 3.11 and 3.12 with NumPy 1.26.",
    "Use the loopback address 127.0.0.1 for local testing only.",
    "Error code 0x80070057 means that one of the parameters is wrong.",
    "The documentation example uses 203.0.113.7 as the client address.",
    "Set LOG_LEVEL=DEBUG and restart the HttpServer to see the request headers.",
    "Version 10.2.0.1 of the firmware fixes the Wi-Fi drop after standby.",
    "The table lists 1,204 rows, 37 columns and a total of 44,548 cells.",
    "ERROR Worker 3 exited with status 137 after 2048 MB",
    "Django and Flask both ship a development server that is not meant for production.",
    "In 2019 the project moved its code from Subversion to Git.",
]
DE_PROSE = [
    "Die Bibliothek hat im Winter länger geöffnet, weil viele Schüler dort für ihre Prüfungen lernen.",
    "Im Frühjahr pflanzten die Kinder der Grundschule eine Reihe Apfelbäume am Rand des Sportplatzes.",
    "Nach dem Sturm räumte die Gemeinde die umgestürzten Äste innerhalb eines Vormittags von der Straße.",
    "Der Chor probt jeden Dienstagabend und freut sich über neue Sängerinnen und Sänger.",
    "Die Bäckerei an der Ecke ist samstags oft schon vor zehn Uhr ausverkauft.",
    "Während der Bauarbeiten fuhr alle dreißig Minuten ein Ersatzbus zum Bahnhof.",
    "Das Museum zeigt Werkzeuge und Kleidung aus den Höfen, die einst das ganze Tal bedeckten.",
    "Der Verein sammelt beim jährlichen Lauf Geld für das Dach des Gemeindezentrums.",
    "Im Herbst endet das Erntefest mit einer langen Tafel auf dem Marktplatz.",
    "Die neue Fußgängerampel vor der Schule macht den Schulweg deutlich sicherer.",
]
FR_PROSE = [
    "La bibliothèque reste ouverte plus tard le jeudi, quand les étudiants préparent leurs examens.",
    "Au printemps, les enfants de l'école ont planté une rangée de pommiers au bord du terrain de sport.",
    "Après la tempête, la commune a dégagé les branches tombées sur la route en une seule matinée.",
    "La chorale répète chaque mardi soir et accueille volontiers de nouveaux chanteurs.",
    "La boulangerie du coin est souvent en rupture de pain de seigle avant dix heures.",
    "Pendant les travaux, un bus de remplacement partait toutes les demi-heures vers la gare.",
    "Le musée présente des outils et des vêtements venus des fermes qui couvraient autrefois la vallée.",
    "La fête des vendanges s'est terminée par une longue table sur la place du village.",
    "Le nouveau passage piéton devant l'école rend le trajet du matin plus sûr pour les familles.",
    "Le club d'échecs a tellement grandi qu'il lui faut une deuxième salle le vendredi soir.",
]

EN_TEMPLATES = {
    "PERSON": [
        "{PERSON} wrote the first draft of this section.",
        "The workshop was led by {PERSON} and {PERSON}.",
        "According to {PERSON}, the bridge needs new railings before winter.",
        "Many thanks to {PERSON} for the photographs.",
        "Last year {PERSON} joined the committee as treasurer.",
        "The prize for the best garden went to {PERSON}.",
    ],
    "EMAIL_ADDRESS": [
        "Send your questions to {EMAIL_ADDRESS} before Friday.",
        "Contact: {EMAIL_ADDRESS}",
        "You can also write to {EMAIL_ADDRESS} if the form does not work.",
    ],
    "PHONE_NUMBER": [
        "Call us on {PHONE_NUMBER} during office hours.",
        "Phone: {PHONE_NUMBER}",
        "For bookings, ring {PHONE_NUMBER} after six in the evening.",
        "Tickets are available at {PHONE_NUMBER} or at the door.",
    ],
    "CREDIT_CARD": [
        "The payment was made with the card {CREDIT_CARD}.",
        "Card number {CREDIT_CARD}, expiring at the end of next year.",
    ],
    "IBAN_CODE": [
        "Please transfer the fee to {IBAN_CODE} by the end of the month.",
        "IBAN: {IBAN_CODE}",
    ],
    "IP_ADDRESS": [
        "The failed logins all came from {IP_ADDRESS} within one hour.",
        "Requests from {IP_ADDRESS} were blocked by the firewall.",
    ],
    "US_SSN": [
        "Her social security number is {US_SSN}.",
        "SSN: {US_SSN}",
    ],
    "STREET_ADDRESS": [
        "The parcel was sent to {STREET_ADDRESS} on Monday.",
        "Our new office is at {STREET_ADDRESS}.",
        "She lives at {STREET_ADDRESS} with two cats.",
    ],
}
DE_TEMPLATES = {
    "EMAIL_ADDRESS": ["Fragen bitte an {EMAIL_ADDRESS} schicken.", "E-Mail: {EMAIL_ADDRESS}"],
    "PHONE_NUMBER": ["Sie erreichen uns unter {PHONE_NUMBER}.", "Telefon: {PHONE_NUMBER}"],
    "IBAN_CODE": ["Bitte überweisen Sie den Beitrag auf {IBAN_CODE}."],
    "IP_ADDRESS": ["Die Anfragen kamen von {IP_ADDRESS}."],
    "CREDIT_CARD": ["Bezahlt wurde mit der Karte {CREDIT_CARD}."],
    "STREET_ADDRESS": ["Das Paket ging an {STREET_ADDRESS}.", "Unser Büro ist jetzt in der {STREET_ADDRESS}."],
}
FR_TEMPLATES = {
    "EMAIL_ADDRESS": ["Envoyez vos questions à {EMAIL_ADDRESS}.", "Courriel : {EMAIL_ADDRESS}"],
    "PHONE_NUMBER": ["Vous pouvez nous appeler au {PHONE_NUMBER}.", "Téléphone : {PHONE_NUMBER}"],
    "IBAN_CODE": ["Merci de virer la cotisation sur {IBAN_CODE}."],
    "IP_ADDRESS": ["Les connexions venaient de {IP_ADDRESS}."],
    "CREDIT_CARD": ["Le paiement a été fait avec la carte {CREDIT_CARD}."],
    "STREET_ADDRESS": ["Le colis a été envoyé au {STREET_ADDRESS}.", "Notre bureau se trouve au {STREET_ADDRESS}."],
}
_PROSE = {"en": EN_PROSE, "de": DE_PROSE, "fr": FR_PROSE}
_TEMPLATES = {"en": EN_TEMPLATES, "de": DE_TEMPLATES, "fr": FR_TEMPLATES}
_LANG_LOCALES = {"en": LOCALES, "de": ["de_DE"], "fr": ["fr_FR"]}


@dataclass
class LabelledDoc:
    id: str
    text: str
    language: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, entity_type)

    def values(self) -> list[tuple[str, str]]:
        return [(e, self.text[s:t]) for s, t, e in self.spans]


class _Values:
    """Faker values per entity type, seeded, in the locale asked for."""

    def __init__(self, seed: int):
        from faker import Faker

        self.rng = random.Random(seed)
        self.fakers = {}
        for i, loc in enumerate(LOCALES):
            f = Faker(loc)
            f.seed_instance(seed * 1000 + i)
            self.fakers[loc] = f

    def person(self, loc: str) -> str:
        f = self.fakers[loc]
        name = f"{f.first_name()} {f.last_name()}"
        return ("Dr. " + name) if self.rng.random() < 0.1 else name

    def email(self, loc: str) -> str:
        return self.fakers[loc].email()

    def phone(self, loc: str) -> str:
        import phonenumbers

        f = self.fakers[loc]
        for _ in range(200):
            n = f.phone_number()
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(n, _REGION[loc])):
                    return n
            except phonenumbers.NumberParseException:
                continue
        raise RuntimeError(f"no valid {loc} phone number in 200 draws")

    def card(self, loc: str) -> str:
        n = self.fakers["en_US"].credit_card_number(card_type=self.rng.choice(["visa16", "mastercard", "amex", "discover"]))
        style = self.rng.choice(["plain", "spaces", "dashes"])
        if style == "plain":
            return n
        groups = [n[0:4], n[4:10], n[10:]] if len(n) == 15 else [n[i:i + 4] for i in range(0, len(n), 4)]
        return (" " if style == "spaces" else "-").join(groups)

    def iban(self, loc: str) -> str:
        n = self.fakers["en_GB" if loc == "en_US" else loc].iban()
        if self.rng.random() < 0.5:
            return " ".join(n[i:i + 4] for i in range(0, len(n), 4))
        return n

    def ip(self, loc: str) -> str:
        import ipaddress

        f = self.fakers[loc]
        if self.rng.random() < 0.2:
            while True:
                v = f.ipv6()
                if ipaddress.ip_address(v).is_global and not ipaddress.ip_address(v).is_multicast:
                    return v
        return f.ipv4_public()

    def ssn(self, loc: str) -> str:
        return self.fakers["en_US"].ssn()

    def address(self, loc: str) -> str:
        f = self.fakers[loc]
        street = f.street_address().replace("\n", ", ")
        if loc == "en_US":
            tail = f"{f.city()}, {f.state_abbr()} {f.zipcode()}"
        else:
            tail = f"{f.postcode()} {f.city()}"
        # A street without a house number is a postal address only with its postcode and town.
        has_number = any(c.isdigit() for c in street)
        return street if has_number and self.rng.random() < 0.25 else f"{street}, {tail}"

    def value(self, entity: str, loc: str) -> str:
        return {
            "PERSON": self.person, "EMAIL_ADDRESS": self.email, "PHONE_NUMBER": self.phone,
            "CREDIT_CARD": self.card, "IBAN_CODE": self.iban, "IP_ADDRESS": self.ip, "US_SSN": self.ssn,
            "STREET_ADDRESS": self.address,
        }[entity](loc)


def _fill(template: str, entity: str, values: _Values, loc: str) -> tuple[str, list[tuple[int, int, str]]]:
    out, spans, rest = "", [], template
    slot = "{" + entity + "}"
    while slot in rest:
        head, rest = rest.split(slot, 1)
        out += head
        v = values.value(entity, loc)
        spans.append((len(out), len(out) + len(v), entity))
        out += v
    return out + rest, spans


def generate_eval_set(n_docs: int = 120, seed: int = 0, pii_free_fraction: float = 0.2,
                      language_mix: dict[str, float] | None = None) -> list[LabelledDoc]:
    """`n_docs` documents; a `pii_free_fraction` of them hold no PII at all (false-positive budget)."""
    mix = language_mix or {"en": 0.8, "de": 0.1, "fr": 0.1}
    rng = random.Random(seed)
    values = _Values(seed)
    langs, weights = zip(*sorted(mix.items()))
    docs = []
    for i in range(n_docs):
        lang = rng.choices(langs, weights)[0]
        prose = _PROSE[lang]
        n_prose = rng.randint(3, 6)
        parts: list[tuple[str, list]] = [(s, []) for s in rng.sample(prose, n_prose)]
        if lang == "en":
            parts += [(s, []) for s in rng.sample(EN_TECH, rng.randint(0, 2))]
        if rng.random() >= pii_free_fraction:
            templates = _TEMPLATES[lang]
            for entity in rng.sample(sorted(templates), rng.randint(1, 3)):
                loc = rng.choice(_LANG_LOCALES[lang])
                parts.append(_fill(rng.choice(templates[entity]), entity, values, loc))
        rng.shuffle(parts)
        text, spans = "", []
        for j, (sentence, sp) in enumerate(parts):
            if j:
                # Log lines and "Label: value" lines end without a full stop: they stand on their own line.
                own_line = sentence[:4].isdigit() or sentence.startswith("ERROR") or not text.endswith((".", "!", "?"))
                text += "\n\n" if rng.random() < 0.25 else ("\n" if own_line else " ")
            spans += [(s + len(text), e + len(text), t) for s, e, t in sp]
            text += sentence
        docs.append(LabelledDoc(f"pii-eval-{seed}-{i:05d}", text, lang, sorted(spans)))
    return docs


def score(docs: list[LabelledDoc], predictions: list[list[tuple[int, int, str]]],
          entities: list[str] | None = None, ner_languages: set[str] | None = None) -> dict[str, dict[str, float]]:
    """Per entity type: tp, fn, fp, recall, precision. A truth span is found when a prediction of the same type
    overlaps it; a prediction is false when it overlaps no truth span of its type. PERSON truth counts only
    in documents whose language has NER (`ner_languages`, default: all)."""
    entities = entities or ENTITY_TYPES
    stats = {e: {"tp": 0, "fn": 0, "fp": 0} for e in entities}
    for doc, pred in zip(docs, predictions):
        for s, e, t in doc.spans:
            if t not in stats or (t == "PERSON" and ner_languages is not None and doc.language not in ner_languages):
                continue
            hit = any(p[2] == t and p[0] < e and s < p[1] for p in pred)
            stats[t]["tp" if hit else "fn"] += 1
        for ps, pe, pt in pred:
            if pt in stats and not any(t == pt and s < pe and ps < e for s, e, t in doc.spans):
                stats[pt]["fp"] += 1
    for st in stats.values():
        st["recall"] = st["tp"] / (st["tp"] + st["fn"]) if st["tp"] + st["fn"] else 1.0
        st["precision"] = st["tp"] / (st["tp"] + st["fp"]) if st["tp"] + st["fp"] else 1.0
    return stats


def vanilla_presidio(cfg):
    """Presidio's plain loop as users write it: the full spaCy pipeline inside analyze(), one document at a
    time, same recognizers and thresholds as our stage, none of our post-filters. Returns analyze(text, lang)."""
    from corpusforge.transforms.pii import build_analyzer, load_spacy_model

    full = load_spacy_model(cfg.ner_languages["en"], "en", ner_only=False)
    analyzer = build_analyzer(cfg, {"en": full}, ["en"], fast=False)
    thresholds = {e: cfg.score_thresholds.get(e, cfg.default_score_threshold) for e in cfg.entities}

    def analyze(text: str) -> list[tuple[int, int, str]]:
        results = analyzer.analyze(text=text, language="en", entities=list(cfg.entities),
                                   score_threshold=min(thresholds.values()), allow_list=list(cfg.allow_list) or None)
        return sorted((r.start, r.end, r.entity_type) for r in results if r.score >= thresholds[r.entity_type])

    return analyze
