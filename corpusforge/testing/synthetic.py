"""Deterministic generators of documents the curation filters must catch, plus malformed input lines.

The demo corpus (scripts/build_demo_corpus.py), the benchmark corpus (scripts/make_bench_corpus.py) and tests
all draw from here. Every generator takes a `random.Random`, so one seed always gives the same text.

Each junk kind names the rule family written to catch it (`JUNK_KINDS[kind].family`), assuming the earlier
stages let it through. Under the default stage order (langid before the quality rules) a page that fastText
cannot place in a kept language is dropped by langid first; `expected_family` in the demo build applies that
check with the real model so the planted expectations stay honest.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Callable

# -------------------------------------------------------------------------------------------- pools
LOREM_WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore "
    "magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo "
    "consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint "
    "occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum"
).split()

# Plain English sentences of a small-business web page; sampled without replacement so the page itself is
# not repetitive (only the planted defect should trip a filter).
BUSINESS_SENTENCES = [
    "Our team has been helping local families with their homes since the spring of 2004.",
    "We believe that good work starts with a clear plan and an honest conversation.",
    "Every project begins with a visit, so that we can see the space and listen to what you need.",
    "After the visit we send a written quote that lists the materials and the hours of work.",
    "Most small repairs are finished within a week of the first phone call.",
    "Larger renovations are planned together with you, room by room, before any wall is opened.",
    "We only work with suppliers who can tell us where their timber and stone come from.",
    "Our workshop is open to visitors on the first Saturday of every month.",
    "If you are not happy with the result, we come back and fix it at no extra cost.",
    "Many of our customers found us through a friend or a neighbour, and we are proud of that.",
    "The office is closed on public holidays, but urgent calls are still answered.",
    "We are a member of the regional association of builders and carpenters.",
    "Apprentices in our team learn the trade from people with many years of experience.",
    "Please tell us about access to the house, parking and pets before the first visit.",
    "Payments can be made by bank transfer once each stage of the work is complete.",
    "We clean the site at the end of every working day and take all waste away with us.",
    "The garden room we built last year is now used as a small music school.",
    "Wooden windows need a fresh coat of paint every few years to stay healthy.",
    "In winter we focus on indoor work such as kitchens, floors and staircases.",
    "A good staircase is measured twice and cut once, as our founder liked to say.",
    "We try to reuse old bricks and beams whenever the structure allows it.",
    "Customers often ask how long a new floor will last, and the honest answer is decades.",
    "The new catalogue shows photos of the projects we finished over the last two years.",
    "There is a small car park behind the workshop for visitors and deliveries.",
    "You can find the opening hours and the map on the contact page of this site.",
    "We answer every message within two working days, usually much sooner.",
    "The price of a project depends on the materials, the size of the room and the time of year.",
    "Our insurance covers all the work we do, and we are happy to show the certificate.",
    "Last autumn we restored the roof of the old village school with the original slate.",
    "It is always a pleasure to see a house come back to life after a careful repair.",
]

SHORT_SENTENCES = [
    "The shop opens at nine.", "Parking is free on Sundays.", "Dogs are welcome inside.",
    "We close early on Fridays.", "Bring your own bags, please.", "Fresh bread every morning.",
    "The cafe is upstairs.", "Cards and cash are fine.", "Ask us about gift boxes.",
    "Orders ship within two days.", "The garden is open now.", "Tickets sell out fast.",
    "Children enter for free.", "The lift is on the left.", "Toilets are by the door.",
    "Lunch is served from noon.", "We recycle all our glass.", "The market is on Tuesday.",
    "Our coffee is roasted here.", "Call ahead for big groups.", "The bus stops outside.",
    "Seats are not reserved.", "Wifi is free for guests.", "Gloves are in the basket.",
    "The museum is closed today.", "New books arrive weekly.", "Try the lemon cake.",
    "Ask for the daily soup.", "Bikes can stay in the yard.", "The view is worth it.",
]

MENU_ITEMS = [
    "Home", "About us", "Products", "Services", "Pricing", "Blog", "News", "Events", "Careers", "Contact",
    "Support", "Help center", "FAQ", "Downloads", "Documentation", "Partners", "Press", "Investors", "Login",
    "Sign up", "My account", "Cart", "Checkout", "Wishlist", "Gift cards", "Store locator", "Shipping",
    "Returns", "Size guide", "New arrivals", "Best sellers", "Sale", "Men", "Women", "Kids", "Home decor",
    "Kitchen", "Garden", "Outdoor", "Sports", "Electronics", "Laptops", "Phones", "Cameras", "Audio",
    "Accessories", "Books", "Music", "Movies", "Games", "Toys", "Beauty", "Health", "Pets", "Travel",
    "Newsletter", "Sitemap", "Privacy", "Terms", "Accessibility", "Cookie settings", "Language", "Region",
    "Community", "Forum", "Webinars", "Case studies", "Resources", "Tutorials", "API", "Status", "Security",
    "Team", "Our story", "Sustainability", "Affiliates", "Coupons", "Order tracking", "Gift ideas", "Brands",
]
BULLETS = ["\u2022 ", "- ", "* ", "\u00b7 ", "\u25aa "]

SPAM_KEYWORDS = [
    ["cheap flights", "last minute flights", "flight deals"],
    ["best laptop", "cheap laptop", "laptop deals"],
    ["weight loss", "fast weight loss", "weight loss pills"],
    ["online casino", "casino bonus", "free casino games"],
    ["car insurance", "cheap car insurance", "car insurance quotes"],
    ["replica watches", "cheap watches", "luxury watches"],
]
SPAM_GLUE = ["buy", "best", "top", "cheap", "online", "free", "now", "discount", "deals", "sale", "2024", "offer"]

HASHTAGS = [
    "#sale", "#deal", "#win", "#free", "#love", "#instagood", "#follow", "#like4like", "#shopping", "#style",
    "#fashion", "#giveaway", "#today", "#new", "#trending", "#viral", "#musthave", "#promo", "#bestprice",
    "#limited", "#offer", "#hot", "#summer", "#gift", "#discount", "#shop", "#cute", "#happy", "#photo", "#fun",
]
HYPE_SENTENCES = [
    "you will not believe this offer", "only a few items are left in stock", "click the link in the bio now",
    "this is the best thing we have ever sold", "share with your friends before it is gone",
    "the price drops again tonight", "tag someone who needs this", "everyone is talking about it",
    "we ship to every country in the world", "the new colours just arrived", "limited time only for our fans",
    "double tap if you love it", "your order comes with a surprise", "see what happens at midnight",
    "the giveaway ends this weekend", "follow us for more deals like this",
]
SOUP_TOKENS = ["####", "***", "---", "|||", "@@@", "~~~", "...", "\u2026", "===", ">>>", "<<<", "$$$", "%%", "^^^",
               "&&&", "+++", "###", "\u2022\u2022\u2022", "\u00a7\u00a7", "!!!", "???", "[[]]", "//"]

SHORT_PAGES = [
    "Page not found.",
    "This page is under construction. Please come back later.",
    "Coming soon!",
    "Error 404: the page you requested does not exist.",
    "Thank you for your order. You will receive an email shortly.",
    "Access denied. Please log in to continue.",
    "Loading...",
    "Welcome! Click here to enter the site.",
    "Subscribe to our newsletter for updates.",
    "Redirecting you to the new website in five seconds.",
    "Session expired. Please sign in again.",
    "No results found for your search.",
]

JAVASCRIPT_LINES = [
    "JavaScript is disabled in your browser, so some features of this site will not work.",
    "Please enable JavaScript in your browser settings to view this page correctly.",
    "This website requires JavaScript to display the content you asked for.",
    "You need to enable JavaScript to run this app and to use the shopping cart.",
    "For the best experience, turn on JavaScript and reload the page in your browser.",
    "We noticed that JavaScript is turned off, which breaks the interactive map on this page.",
    "This site uses cookies to give you a better experience and to measure the traffic.",
    "By continuing to browse you accept the use of cookies as described in our cookie policy.",
    "Read our privacy policy and the terms of use before you create an account with us.",
    "Your browser is out of date and JavaScript support is missing, so please update it.",
]

CODE_SNIPPETS = [
    "function showMenu() { document.getElementById('menu').style.display = 'block'; }",
    "if (window.innerWidth < 600) { openMobileLayout(); } else { openDesktopLayout(); }",
    "var settings = { theme: 'dark', fontSize: 14, autosave: true };",
    "for (let i = 0; i < items.length; i++) { total += items[i].price; }",
    ".header { margin: 0 auto; padding: 12px; background: #fafafa; }",
]

TEMPLATE_INTROS = [
    "Welcome to the new website of our small family business.",
    "This is the home page of our workshop and our little shop.",
    "Thank you for visiting the site of our company.",
]


# ------------------------------------------------------------------------------------------- junk
def lorem_ipsum(rng: random.Random) -> str:
    """Paragraphs of lorem ipsum only. fastText reads it as Latin, so langid usually drops it first."""
    paras = []
    for _ in range(rng.randint(3, 6)):
        sents = []
        for _ in range(rng.randint(3, 6)):
            words = [rng.choice(LOREM_WORDS) for _ in range(rng.randint(6, 14))]
            sents.append(" ".join(words).capitalize() + ".")
        paras.append(" ".join(sents))
    paras[0] = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " + paras[0]
    return "\n".join(paras)


def lorem_placeholder_page(rng: random.Random) -> str:
    """An English page left with template filler text: C4 drops any page containing 'lorem ipsum'."""
    sents = rng.sample(BUSINESS_SENTENCES, 8)
    filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt."
    lines = [rng.choice(TEMPLATE_INTROS), " ".join(sents[:3]), filler, " ".join(sents[3:6]), " ".join(sents[6:])]
    return "\n".join(lines)


def repeated_lines(rng: random.Random) -> str:
    """One boilerplate line repeated across the page: Gopher duplicate-line fraction."""
    boiler = rng.choice([
        "Click here to subscribe to our newsletter and get the latest deals every week.",
        "Share this page with your friends on social media and earn reward points.",
        "Free shipping on all orders over fifty dollars, today only, do not miss it.",
    ])
    others = rng.sample(BUSINESS_SENTENCES, 4)
    lines = [boiler] * rng.randint(10, 16) + others
    rng.shuffle(lines)
    return "\n".join(lines)


def keyword_spam(rng: random.Random) -> str:
    """SEO keyword stuffing: a few phrases over and over, Gopher top n-gram ratio."""
    kws = rng.choice(SPAM_KEYWORDS)
    words: list[str] = []
    while len(words) < rng.randint(90, 160):
        words += [rng.choice(SPAM_GLUE)] + rng.choice(kws).split()
    lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    return "\n".join(lines)


def symbol_soup(rng: random.Random) -> str:
    """Lines of symbols with a few stray words: Gopher symbol-to-word ratio (or langid low score)."""
    lines = []
    for _ in range(rng.randint(8, 14)):
        toks = [rng.choice(SOUP_TOKENS) for _ in range(rng.randint(5, 10))]
        if rng.random() < 0.5:
            toks.insert(rng.randrange(len(toks)), rng.choice(["menu", "top", "news", "link", "more", "page"]))
        lines.append(" ".join(toks))
    return "\n".join(lines)


def hashtag_spam(rng: random.Random) -> str:
    """English hype with hashtags and trailing ellipses: Gopher symbol ratio and ellipsis-line ratio."""
    sents = rng.sample(HYPE_SENTENCES, 10)
    lines = []
    for s in sents:
        tags = " ".join(rng.sample(HASHTAGS, rng.randint(3, 5)))
        lines.append(f"{s.capitalize()} {tags} ...")
    return "\n".join(lines)


def menu_list(rng: random.Random) -> str:
    """A navigation menu scraped as text: every line a bullet, Gopher bullet-line ratio."""
    bullet = rng.choice(BULLETS)
    items = rng.sample(MENU_ITEMS, rng.randint(35, 55))
    return "\n".join(bullet + it for it in items)


SITE_NAMES = ["Northwind Traders", "Blue Harbor Books", "Maple Street Bakery", "Orbit Cycles", "Green Valley Farm",
              "Pixel Forge", "Riverside Dental", "Summit Outdoor", "Lakeside Hotel", "Copper Kettle Cafe"]


def very_short_page(rng: random.Random) -> str:
    """Error and placeholder pages: far below Gopher's 50-word minimum."""
    return f"{rng.choice(SITE_NAMES)}\n" + " ".join(rng.sample(SHORT_PAGES, rng.randint(1, 2)))


def javascript_page(rng: random.Random) -> str:
    """Browser/JavaScript/cookie notices around two real sentences. C4 removes the notice lines, then too few
    sentences remain and the page is dropped."""
    lines = rng.sample(JAVASCRIPT_LINES, 7)
    lines.insert(rng.randrange(len(lines)), rng.choice(BUSINESS_SENTENCES))
    return "\n".join(lines)


def code_on_page(rng: random.Random) -> str:
    """An English page with a script or style fragment pasted in: C4 drops pages with a curly bracket."""
    sents = rng.sample(BUSINESS_SENTENCES, 8)
    lines = [" ".join(sents[:4]), rng.choice(CODE_SNIPPETS), " ".join(sents[4:])]
    return "\n".join(lines)


def short_lines(rng: random.Random) -> str:
    """Many short one-sentence lines (notice-board style): FineWeb short-line and newline ratios."""
    return "\n".join(rng.sample(SHORT_SENTENCES, rng.randint(18, 24)))


@dataclass(frozen=True)
class JunkKind:
    make: Callable[[random.Random], str]
    family: str  # rule family (reason prefix) written to catch it: gopher, c4, fineweb, langid


JUNK_KINDS: dict[str, JunkKind] = {
    "lorem_ipsum": JunkKind(lorem_ipsum, "langid"),
    "lorem_placeholder_page": JunkKind(lorem_placeholder_page, "c4"),
    "repeated_lines": JunkKind(repeated_lines, "gopher"),
    "keyword_spam": JunkKind(keyword_spam, "gopher"),
    "symbol_soup": JunkKind(symbol_soup, "gopher"),
    "hashtag_spam": JunkKind(hashtag_spam, "gopher"),
    "menu_list": JunkKind(menu_list, "gopher"),
    "very_short_page": JunkKind(very_short_page, "gopher"),
    "javascript_page": JunkKind(javascript_page, "c4"),
    "code_on_page": JunkKind(code_on_page, "c4"),
    "short_lines": JunkKind(short_lines, "fineweb"),
}


def junk_documents(n: int, seed: int = 0, id_prefix: str = "junk") -> list[dict]:
    """`n` junk docs cycling through every kind: {"id", "text", "kind", "family"}; same seed, same docs."""
    rng = random.Random(seed)
    kinds = sorted(JUNK_KINDS)
    docs, seen = [], set()
    for i in range(n):
        kind = kinds[i % len(kinds)]
        text = JUNK_KINDS[kind].make(rng)
        for _ in range(100):  # junk pages are distinct, so planted exact duplicates are the only ones
            if text not in seen:
                break
            text = JUNK_KINDS[kind].make(rng)
        seen.add(text)
        docs.append({
            "id": f"{id_prefix}-{kind.replace('_', '-')}-{i:04d}",
            "text": text,
            "kind": kind,
            "family": JUNK_KINDS[kind].family,
        })
    return docs


# -------------------------------------------------------------------------------------------- PII
PII_OPENINGS = [
    "Dear {name},", "Hello {name},", "Good morning {name},", "To {name}, by email.",
    "Note for the file of {name}.", "Message from the front desk for {name}.",
    "Summary of the phone call with {name}.", "Reply to the request sent by {name}.",
]
# Each sentence carries one planted entity; a letter takes three of them with filler prose between, so
# letters do not look like near duplicates of each other.
PII_SENTENCES = [
    ("email", "If the time does not suit you, please write to {email} and we will find another day."),
    ("email", "A written report was sent to {email} with the steps we took and the cause we found."),
    ("email", "Questions about the invoice can go to {email}, where our accountant reads them every morning."),
    ("email", "The signed contract was returned from the address {email} on Tuesday afternoon."),
    ("phone", "The delivery company will call you at {phone} one hour before they arrive."),
    ("phone", "Our engineer called back on {phone} and explained the next steps in detail."),
    ("phone", "You can also call the office on {phone} from Monday to Friday during office hours."),
    ("phone", "In case of an emergency at the site, the foreman can be reached on {phone} at any time."),
    ("ip", "The customer reported that the office router at {ip} stopped answering after an update."),
    ("ip", "Our logs show several failed logins from the address {ip} during the night."),
    ("card", "We have refunded the full amount to the card with the number {card}."),
    ("card", "The deposit was paid with the card {card}, and the receipt is attached to this note."),
    ("name2", "The work will be supervised by {name2}, who has led our team for many years."),
    ("name2", "Parents who want to help with the next fair can ask {name2} after the meeting."),
]
PII_CLOSINGS = ["With kind regards, {name2}.", "Best wishes from the whole team.", "Thank you for your patience.",
                "We look forward to hearing from you.", "Signed on behalf of the office by {name2}."]
PII_ENTITY = {"name": "PERSON", "name2": "PERSON", "email": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER",
              "ip": "IP_ADDRESS", "card": "CREDIT_CARD"}
PHONE_FORMATS = ["(###) ###-####", "###-###-####", "+1 ###-###-####", "+44 20 #### ####"]


def pii_documents(n: int, seed: int = 0, id_prefix: str = "pii") -> list[dict]:
    """English letters and notes with Faker names, emails, phones, IPs and card numbers.

    Returns {"id", "text", "entities": {type: [values]}}. They are otherwise clean prose, so the quality
    filters keep them and the PII stage sees them.
    """
    from faker import Faker  # import here: only PII docs need it

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        values = {
            "name": fake.name(),
            "name2": fake.name(),
            "email": fake.email(),
            "phone": fake.numerify(rng.choice(PHONE_FORMATS)),
            "ip": fake.ipv4_public(),
            "card": fake.credit_card_number(card_type="visa16"),
        }
        pii_lines = [t for _, t in rng.sample(PII_SENTENCES, 3)]
        filler = rng.sample(BUSINESS_SENTENCES, 6)
        lines = [rng.choice(PII_OPENINGS), " ".join(filler[:2]), pii_lines[0], " ".join(filler[2:4]),
                 pii_lines[1], filler[4], pii_lines[2], filler[5], rng.choice(PII_CLOSINGS)]
        text = "\n".join(line.format(**values) for line in lines)
        used = "\n".join(lines)
        entities: dict[str, list[str]] = {}
        for key, etype in PII_ENTITY.items():
            if "{" + key + "}" in used and values[key] not in entities.get(etype, []):
                entities.setdefault(etype, []).append(values[key])
        docs.append({"id": f"{id_prefix}-{i:04d}", "text": text, "entities": entities})
    return docs


# ---------------------------------------------------------------------------------- near duplicates
_WORD = re.compile(r"\w+", re.UNICODE)


def word_shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = word_shingles(a, n), word_shingles(b, n)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def perturb_words(text: str, rng: random.Random, edits: int) -> str:
    """`edits` small word edits (replace, delete, swap, repeat) that keep the line structure, the way a
    re-published copy differs from its original."""
    lines = [line.split(" ") for line in text.split("\n")]
    positions = [(li, wi) for li, line in enumerate(lines) for wi in range(len(line)) if len(line) > 3]
    vocab = sorted({w for line in lines for w in line if w.isalpha()})
    for li, wi in sorted(rng.sample(positions, min(edits, len(positions))), reverse=True):
        line = lines[li]
        if wi >= len(line):
            continue
        op = rng.choice(["replace", "delete", "swap", "repeat"])
        if op == "replace" and vocab:
            line[wi] = rng.choice(vocab)
        elif op == "delete" and len(line) > 4:
            del line[wi]
        elif op == "swap" and wi + 1 < len(line):
            line[wi], line[wi + 1] = line[wi + 1], line[wi]
        else:
            line.insert(wi, line[wi])
    out = "\n".join(" ".join(line) for line in lines)
    if out == text and positions:  # e.g. a word replaced by itself: a near duplicate must differ
        li, wi = rng.choice(positions)
        lines[li].insert(wi, lines[li][wi])
        out = "\n".join(" ".join(line) for line in lines)
    return out


# ---------------------------------------------------------------------------------- malformed lines
def malformed_jsonl_lines(duplicate_of_id: str) -> list[tuple[str, bytes]]:
    """(kind, raw line without newline) for every way a JSONL line can be unusable. The reader must
    quarantine each with an error (a blank line is listed too; readers may skip it)."""
    return [
        ("broken_json", b'{"id": "malformed-broken-json", "text": "this line stops in the middle of a str'),
        ("invalid_utf8", b'{"id": "malformed-invalid-utf8", "text": "caf\xe9 cr\xe8me \xff\xfe latin-1 bytes"}'),
        ("missing_text", json.dumps({"id": "malformed-missing-text", "body": "the text is in the wrong field"})
         .encode()),
        ("non_string_text", json.dumps({"id": "malformed-number-text", "text": 12345}).encode()),
        ("non_string_text", json.dumps({"id": "malformed-list-text", "text": ["a", "list", "of", "words"]})
         .encode()),
        ("null_text", json.dumps({"id": "malformed-null-text", "text": None}).encode()),
        ("empty_text", json.dumps({"id": "malformed-empty-text", "text": ""}).encode()),
        ("not_an_object", b'["an", "array", "is", "not", "a", "record"]'),
        ("duplicate_id", json.dumps({"id": duplicate_of_id, "text": "A second record that reuses the id of an "
                                     "earlier record with a different text."}).encode()),
        ("blank_line", b""),
    ]


def oversized_text(paragraph: str, min_bytes: int) -> str:
    """A real paragraph repeated past `min_bytes` of UTF-8: too large for the reader, tiny once gzipped."""
    unit = paragraph.strip() + "\n"
    reps = min_bytes // len(unit.encode("utf-8")) + 1
    return unit * reps


def demo_real_records(demo) -> list[dict]:
    """Every readable record of the demo corpus with real text from a Debian package (no junk, no PII).

    Used by the bench-corpus builder and the dedup test helper. Malformed lines are skipped here on purpose:
    the callers want real prose, not the pipeline's accounting."""
    import gzip as _gzip
    import json as _json
    from pathlib import Path as _Path

    import pyarrow.parquet as pq

    demo = _Path(demo)
    raws = (demo / "part-000.jsonl").read_bytes().split(b"\n")
    raws += _gzip.decompress((demo / "part-001.jsonl.gz").read_bytes()).split(b"\n")
    recs = []
    for raw in raws:
        try:
            rec = _json.loads(raw)
        except (UnicodeDecodeError, _json.JSONDecodeError):
            continue
        if isinstance(rec, dict) and isinstance(rec.get("text"), str) and rec.get("source_pkg"):
            recs.append(rec)
    recs += [r for r in pq.read_table(demo / "part-002.parquet").to_pylist() if r.get("text") and r.get("source_pkg")]
    return recs
