#!/usr/bin/env python3
"""Build a crawl-shaped demo WARC in data/warc-demo/ from the HTML of Debian documentation packages.

    .venv/bin/python scripts/build_warc_demo.py                  # downloads the .debs with `apt-get download`
    .venv/bin/python scripts/build_warc_demo.py --debs-dir DIR   # or uses .debs already in DIR

Real pages: the HTML manuals of `maint-guide` (en, fr, de, ja), `debian-faq` and `developers-reference`
(Debian bookworm). Each page is served as an HTTP response inside a site template with boilerplate (a
navigation menu, a cookie banner, a "popular pages" sidebar and a footer) on top of the manuals' own
navigation bars, the way a crawler sees a documentation site. The crawl also holds what real crawls hold
(Common Crawl's WARC layout: a warcinfo record, then request / response / metadata records per fetch):
non-HTML responses (PNG, CSS, a binary), a 404 page, a redirect with an empty body, a page truncated by the
crawler (`WARC-Truncated: length`), an HTTP gzip-encoded page, pages in ISO-8859-1 and EUC-JP, a Latin-1
page whose headers claim UTF-8, a `resource` record without HTTP headers, and copies of some pages on a
mirror host that configs/warc.yaml blocks.

Outputs (same bytes on every run with the same package versions; git-ignored, see data/warc-demo/README.md):
  crawl-00000.warc.gz   record-gzipped (one gzip member per record, as Common Crawl ships WARCs)
  crawl-00001.warc      plain, uncompressed
  crawl-00002.warc.gz   record-gzipped, its last member cut in the middle (a download that died)
  truth.jsonl.gz        per content page: url, record id, the main text and the boilerplate text
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ["maint-guide", "maint-guide-fr", "maint-guide-de", "maint-guide-ja", "debian-faq", "developers-reference"]
BASE = "https://www.debian.org/doc/manuals"
MIRROR = "https://mirror.example.net/debian-doc"  # blocked by configs/warc.yaml (url_blocked)
FETCH_DATE = "2024-05-{day:02d}T{hour:02d}:{minute:02d}:00Z"

# The site template: words a reader never wants in a corpus. Written for this demo (CC0).
NAV = ["Home", "News", "Download", "Support", "Developers", "Donate", "Blog", "Events", "Partners", "Security",
       "Mailing lists", "Bug tracker", "Wiki", "Sitemap", "Contact us", "Log in"]
POPULAR = ["Installing on a laptop", "Release notes", "Mirror list", "Backports", "Long term support",
           "Package search", "Screenshots", "Press kit"]
COOKIE = ("We use cookies to remember your language and to count visits. By continuing to browse this site you "
          "accept our use of cookies. Manage preferences or read the privacy notice.")
FOOTER = ("Copyright 2024 Example Documentation Mirror Project. All trademarks belong to their owners. "
          "Privacy notice | Terms of use | Accessibility | Report a broken link | Follow us on social media")


def _uid(*parts: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '|'.join(parts))}>"


def fetch_debs(debs_dir: Path) -> dict[str, Path]:
    debs_dir.mkdir(parents=True, exist_ok=True)
    missing = [p for p in PACKAGES if not list(debs_dir.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs_dir, check=True)
    return {p: sorted(debs_dir.glob(f"{p}_*.deb"))[-1] for p in PACKAGES}


def unpack(debs: dict[str, Path], into: Path) -> dict[str, Path]:
    out = {}
    for pkg, deb in debs.items():
        target = into / pkg
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
        out[pkg] = target
    return out


def collect_pages(roots: dict[str, Path]) -> list[tuple[str, str, Path]]:
    """(package, url, file) for every HTML page, English pages of every manual plus the translations."""
    pages = []
    for pkg, root in roots.items():
        lang = pkg.rsplit("-", 1)[1] if pkg.startswith("maint-guide-") else "en"
        files = sorted(p for p in root.rglob("*.html") if not p.is_symlink())
        if pkg == "developers-reference":
            # One page per chapter; the single-page edition and the search page are left out.
            files = [p for p in files if p.name not in ("developers-reference.html", "search.html")]
        else:
            files = [p for p in files if p.name.endswith(f".{lang}.html")]
        manual = "maint-guide" if pkg.startswith("maint-guide") else pkg
        for p in files:
            pages.append((pkg, f"{BASE}/{manual}/{p.name}", p))
    return pages


# ------------------------------------------------------------------------------------- page shaping
def wrap_in_site(html: str, url: str) -> str:
    """Insert the site's header, cookie banner, sidebar and footer around the manual page's own body."""
    nav = "".join(f'<li><a href="/{n.lower().replace(" ", "-")}/">{n}</a></li>' for n in NAV)
    popular = "".join(f'<li><a href="/p/{i}">{t}</a></li>' for i, t in enumerate(POPULAR))
    header = (f'<header id="site-header"><div class="logo"><a href="/">Debian documentation mirror</a></div>'
              f'<nav class="menu"><ul>{nav}</ul></nav>'
              f'<div class="breadcrumbs"><a href="/">Home</a> &gt; <a href="/doc/">Documentation</a></div></header>'
              f'<div class="cookie-banner" role="dialog"><p>{COOKIE}</p><button>Accept</button></div>')
    sidebar = f'<aside class="sidebar"><h3>Popular pages</h3><ul>{popular}</ul></aside>'
    footer = f'<footer id="site-footer"><p>{FOOTER}</p></footer>'
    html = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + header, html, count=1)
    return html.replace("</body>", sidebar + footer + "</body>", 1)


def main_element(tree):
    """The element holding the page's main text: Sphinx's div.body, DocBook's chapter/appendix/preface/book.

    The manual's table of contents inside it is navigation, so it is removed (the caller counts it as
    boilerplate)."""
    found = tree.xpath('//div[@role="main"]') or tree.xpath(
        '//body/div[contains(concat(" ", @class, " "), " chapter ") or contains(concat(" ", @class, " "), " appendix ")'
        ' or contains(concat(" ", @class, " "), " preface ") or contains(concat(" ", @class, " "), " book ")]')
    return found[0] if found else None


def _text(el) -> str:
    from lxml import etree

    parts = []
    for node in el.iter():
        if node.tag in (etree.Comment, etree.ProcessingInstruction) or node.tag in ("script", "style"):
            continue
        if node.text and node.tag not in ("script", "style"):
            parts.append(node.text)
        if node is not el and node.tail:
            parts.append(node.tail)
    return " ".join(" ".join(parts).split())


def split_main_boilerplate(html_bytes: bytes) -> tuple[str, str] | None:
    """(main text, boilerplate text) of a served page, or None when it has no main element."""
    import lxml.html

    tree = lxml.html.fromstring(html_bytes)
    main = main_element(tree)
    if main is None:
        return None
    for toc in main.xpath('.//div[contains(concat(" ", @class, " "), " toc ")]'):
        toc.drop_tree()
    for link in main.xpath('.//a[@class="headerlink"]'):
        link.drop_tree()
    main_text = _text(main)
    main.drop_tree()
    body = tree.find("body") if tree.tag != "body" else tree
    return main_text, _text(body if body is not None else tree)


def recode(html: str, charset: str) -> bytes:
    """Re-encode a page to `charset` and make its own <meta>/XML declarations say so."""
    html = re.sub(r"charset=[\w-]+", f"charset={charset}", html, flags=re.I)
    html = re.sub(r'encoding="[\w-]+"', f'encoding="{charset}"', html, count=1)
    return html.encode(charset, "xmlcharrefreplace")


# ---------------------------------------------------------------------------------------- records
class Crawl:
    """Writes fetches in Common Crawl's record order with warcio (request, response, metadata)."""

    def __init__(self, stream, gzip_records: bool):
        from warcio.warcwriter import WARCWriter

        self.w = WARCWriter(stream, gzip=gzip_records)
        self.n = 0

    def _date(self) -> str:
        self.n += 1
        return FETCH_DATE.format(day=1 + self.n // 1440 % 28, hour=self.n // 60 % 24, minute=self.n % 60)

    def warcinfo(self, name: str) -> None:
        rec = self.w.create_warcinfo_record(name, {"software": "corpusforge scripts/build_warc_demo.py",
                                                    "format": "WARC File Format 1.1",
                                                    "description": "Demo crawl of Debian documentation"})
        rec.rec_headers.replace_header("WARC-Record-ID", _uid("warcinfo", name))
        rec.rec_headers.replace_header("WARC-Date", "2024-05-01T00:00:00Z")
        self.w.write_record(rec)

    def fetch(self, url: str, status: str, headers: list[tuple[str, str]], body: bytes, *,
              truncated: bool = False, metadata: bool = True) -> str:
        from warcio.statusandheaders import StatusAndHeaders

        date = self._date()
        req = self.w.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=StatusAndHeaders(
            "GET " + re.sub(r"^https?://[^/]+", "", url) + " HTTP/1.1",
            [("Host", url.split("/")[2]), ("User-Agent", "corpusforge-demo/1.0")], is_http_request=True),
            warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": _uid("request", url)})
        self.w.write_record(req)
        rid = _uid("response", url)
        warc_headers = {"WARC-Date": date, "WARC-Record-ID": rid}
        if truncated:
            warc_headers["WARC-Truncated"] = "length"
        resp = self.w.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                         http_headers=StatusAndHeaders(status, headers, protocol="HTTP/1.1"),
                                         warc_headers_dict=warc_headers)
        self.w.write_record(resp)
        if metadata:
            meta = f"fetchTimeMs: {len(body) % 997}\ncharset-detected: unknown\n".encode()
            self.w.write_record(self.w.create_warc_record(
                url, "metadata", payload=io.BytesIO(meta), length=len(meta),
                warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": _uid("metadata", url),
                                   "WARC-Concurrent-To": rid, "Content-Type": "application/warc-fields"}))
        return rid

    def resource(self, url: str, content_type: str, body: bytes) -> str:
        rid = _uid("resource", url)
        self.w.write_record(self.w.create_warc_record(
            url, "resource", payload=io.BytesIO(body), length=len(body),
            warc_headers_dict={"WARC-Date": self._date(), "WARC-Record-ID": rid, "Content-Type": content_type}))
        return rid


def html_headers(charset: str | None, length: int, extra: list[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    ctype = "text/html" + (f"; charset={charset}" if charset else "")
    return [("Content-Type", ctype), ("Content-Length", str(length)), ("Server", "Apache"), *extra]


def build(roots: dict[str, Path], out_dir: Path) -> dict:
    pages = collect_pages(roots)
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_rows, summary = [], {"html_pages": 0, "non_html": 0, "special": []}

    def serve(crawl: Crawl, url: str, path: Path, variant: str = "utf-8") -> None:
        html = wrap_in_site(path.read_text(encoding="utf-8"), url)
        extra: list[tuple[str, str]] = []
        truncated = False
        if variant == "latin-1-claims-utf-8":
            body, charset = recode(html, "utf-8").decode("utf-8").encode("latin-1", "xmlcharrefreplace"), "utf-8"
        elif variant in ("iso-8859-1", "euc-jp"):
            body, charset = recode(html, variant), (variant if variant == "iso-8859-1" else None)
        elif variant == "gzip":
            raw = html.encode("utf-8")
            body, charset = gzip.compress(raw, mtime=0), "utf-8"
            extra = [("Content-Encoding", "gzip")]
        elif variant == "truncated":
            body, charset, truncated = html.encode("utf-8")[:20_000], "utf-8", True
        else:
            body, charset = html.encode("utf-8"), "utf-8"
        rid = crawl.fetch(url, "200 OK", html_headers(charset, len(body), extra), body, truncated=truncated)
        summary["html_pages"] += 1
        if variant != "utf-8":
            summary["special"].append([url, variant])
        if variant == "truncated" or url.startswith(MIRROR):
            return
        split = split_main_boilerplate(html.encode("utf-8"))
        if split and split[0]:
            truth_rows.append({"url": url, "record_id": rid, "variant": variant, "main": split[0],
                               "boilerplate": split[1]})

    variants = {"maint-guide-fr": ["latin-1-claims-utf-8"], "maint-guide-de": ["iso-8859-1"],
                "maint-guide-ja": ["euc-jp"], "debian-faq": ["gzip"], "developers-reference": ["truncated"]}
    # crawl-00000.warc.gz: every page, record-gzipped.
    with open(out_dir / "crawl-00000.warc.gz", "wb") as f:
        crawl = Crawl(f, gzip_records=True)
        crawl.warcinfo("crawl-00000.warc.gz")
        seen: dict[str, int] = {}
        for pkg, url, path in pages:
            k = seen.get(pkg, 0)
            seen[pkg] = k + 1
            special = variants.get(pkg, [])
            serve(crawl, url, path, special[k] if k < len(special) else "utf-8")
        for name in sorted(p.name for p in (roots["debian-faq"].rglob("images/*.png")))[:4]:
            png = next(roots["debian-faq"].rglob(f"images/{name}")).read_bytes()
            crawl.fetch(f"{BASE}/debian-faq/images/{name}", "200 OK",
                        [("Content-Type", "image/png"), ("Content-Length", str(len(png)))], png, metadata=False)
            summary["non_html"] += 1
        css = next(roots["debian-faq"].rglob("debian.css")).read_bytes()
        crawl.fetch(f"{BASE}/debian-faq/debian.css", "200 OK", [("Content-Type", "text/css")], css)
        inv = next(roots["developers-reference"].rglob("objects.inv")).read_bytes()
        crawl.fetch(f"{BASE}/developers-reference/objects.inv", "200 OK",
                    [("Content-Type", "application/octet-stream")], inv)
        summary["non_html"] += 2
        not_found = b"<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
        crawl.fetch(f"{BASE}/maint-guide/missing.html", "404 Not Found", html_headers("utf-8", len(not_found)),
                    not_found)
        crawl.fetch("http://www.debian.org/doc/manuals/maint-guide/", "301 Moved Permanently",
                    [("Location", f"{BASE}/maint-guide/index.en.html"), ("Content-Type", "text/html"),
                     ("Content-Length", "0")], b"")
        faq_page = next(p for pkg, u, p in pages if pkg == "debian-faq" and p.name == "support.en.html")
        crawl.resource(f"file:///srv/www/doc/debian-faq/{faq_page.name}", "text/html",
                       wrap_in_site(faq_page.read_text(encoding="utf-8"), "file://").encode("utf-8"))
        summary["special"] += [["404", "html"], ["301", "empty body"], ["resource", "no HTTP headers"]]
        for pkg, url, path in [p for p in pages if p[0] == "maint-guide"][:3]:
            serve(crawl, url.replace(BASE, MIRROR), path)
    # crawl-00001.warc: the FAQ again under another host, uncompressed.
    with open(out_dir / "crawl-00001.warc", "wb") as f:
        crawl = Crawl(f, gzip_records=False)
        crawl.warcinfo("crawl-00001.warc")
        for pkg, url, path in [p for p in pages if p[0] == "debian-faq"][:6]:
            serve(crawl, url.replace("www.debian.org", "debian.example.org"), path)
    # crawl-00002.warc.gz: three fetches, the last gzip member cut in half.
    buf = io.BytesIO()
    crawl = Crawl(buf, gzip_records=True)
    crawl.warcinfo("crawl-00002.warc.gz")
    for pkg, url, path in [p for p in pages if p[0] == "developers-reference"][1:4]:
        serve(crawl, url.replace("www.debian.org", "cut.example.org"), path)
    data = buf.getvalue()
    (out_dir / "crawl-00002.warc.gz").write_bytes(data[: len(data) - 3000])
    summary["special"].append(["crawl-00002.warc.gz", "last 3000 bytes cut"])

    truth = io.BytesIO()
    with gzip.GzipFile(fileobj=truth, mode="wb", mtime=0) as g:
        for row in truth_rows:
            g.write((json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    (out_dir / "truth.jsonl.gz").write_bytes(truth.getvalue())
    summary["truth_pages"] = len(truth_rows)
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--debs-dir", type=Path, default=None, help="Directory with the .debs (else apt-get download)")
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "warc-demo")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cf-warc-demo-") as tmp:
        debs = fetch_debs(args.debs_dir or Path(tmp) / "debs")
        roots = unpack(debs, Path(tmp) / "x")
        summary = build(roots, args.out)
    summary["packages"] = {p: d.name for p, d in debs.items()}
    (args.out / "build-summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "special"}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
