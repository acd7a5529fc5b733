"""The `html_extract` stage: a crawled page's HTML -> its main text, first of the document stages.

Decisions, in order (each a drop reason of this stage):
  * `url_blocked`: the URL's host is a blocked domain or a subdomain of one, or the URL matches a blocked
    pattern (a user-supplied list, as datatrove's URLFilter takes domain lists such as UT1's).
  * `html_non_html`: the payload is not HTML (images, CSS, PDFs; the reader leaves their text empty). WET
    `conversion` records are already text and pass through unchanged. A document without a `mime`
    annotation did not come from a crawl reader: its text is taken to be HTML.
  * `html_http_status`: a response outside 2xx (error pages, redirects). Common Crawl files these apart, in
    its crawldiagnostics WARCs, for the same reason.
  * `html_empty_after_extraction`: the extractor found no main text.

Extractors: Trafilatura (Barbaresi 2021) and Resiliparse's `extract_plain_text` (Bevendorff et al. 2018),
called with the options of datatrove's `Trafilatura` and `Resiliparse` extractors (favor_precision, no
comments; main_content, no alt texts, links or form fields), except that trafilatura's `deduplicate` is off:
it remembers text across documents, so its output would depend on which worker saw which page first.

Time limit: lxml's and Resiliparse's parsers are single C calls that no Python-level timer can interrupt (the
stage wrapper's input.max_seconds_per_stage cannot stop them either), so with `time_limit_s` set the extractor
runs in a child process, one per worker. A page that runs past the limit has the child killed and restarted
and is quarantined by the stage wrapper with the error; so is a page that crashes the child. Which pages time
out depends on the machine, so only runs without timeouts are byte-reproducible.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from urllib.parse import urlsplit

from corpusforge import storage
from corpusforge.config import HtmlExtractConfig
from corpusforge.records import Document, Drop, TransformResult
from corpusforge.transforms.base import DocumentTransform

log = logging.getLogger("corpusforge.html_extract")

HTML_MIMES = frozenset({"text/html", "application/xhtml+xml"})


class ExtractionTimeout(Exception):
    """The extractor ran past html.time_limit_s on one page."""


class ExtractorCrashed(Exception):
    """The extractor's child process died on one page (a crash in a C parser) or raised."""


def extract_main_text(html: str, extractor: str, url: str | None = None, include_tables: bool = True) -> str:
    """Main text of one page with the named extractor ("" when it finds none)."""
    if extractor == "trafilatura":
        import trafilatura

        text = trafilatura.extract(html, url=url, favor_precision=True, include_comments=False,
                                   include_tables=include_tables, deduplicate=False, output_format="txt")
        return text or ""
    if extractor == "resiliparse":
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(html, main_content=True, alt_texts=False, links=False, form_fields=False,
                                  noscript=False, comments=False, list_bullets=True, preserve_formatting=True)
    raise ValueError(f"unknown extractor {extractor!r}")


def _serve(fd: int, extractor: str, include_tables: bool) -> None:
    """The child's loop: (html, url) in, (ok, text or error) out, over the socket the parent passed."""
    from multiprocessing.connection import Connection

    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    conn = Connection(fd)
    while True:
        try:
            html, url = conn.recv()
        except (EOFError, OSError):  # the parent went away
            return
        try:
            conn.send((True, extract_main_text(html, extractor, url, include_tables)))
        except Exception as e:
            conn.send((False, f"{type(e).__name__}: {str(e)[:300]}"))


class ExtractorProcess:
    """A child process running the extractor, killed and replaced when a page takes too long.

    Started with subprocess rather than multiprocessing: multiprocessing's spawn re-imports the caller's
    __main__, which breaks scripts without a main guard, and fork is unsafe under Beam's gRPC threads.
    """

    def __init__(self, extractor: str, include_tables: bool, time_limit_s: float):
        self.extractor, self.include_tables, self.time_limit_s = extractor, include_tables, time_limit_s
        self._proc: subprocess.Popen | None = None
        self._conn = None

    def start(self) -> None:
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        # Blocking on both ends whatever socket.setdefaulttimeout() a library set: in timeout mode the fd is
        # non-blocking, and sending a page larger than the socket buffer to a child still starting up failed
        # with BlockingIOError.
        ours.setblocking(True)
        theirs.setblocking(True)
        code = (f"from corpusforge.transforms.html_extract import _serve; "
                f"_serve({theirs.fileno()}, {self.extractor!r}, {self.include_tables!r})")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # the parent's imports
        self._proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=[theirs.fileno()], env=env,
                                      stdin=subprocess.DEVNULL)
        theirs.close()
        self._conn = Connection(ours.detach())

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._conn.close()
        self._proc = self._conn = None

    def extract(self, html: str, url: str | None) -> str:
        if self._proc is None or self._proc.poll() is not None:
            self.close()
            self.start()
        try:
            self._conn.send((html, url))
            ready = self._conn.poll(self.time_limit_s)
            if ready:
                ok, value = self._conn.recv()
        except (EOFError, OSError) as e:
            self.close()
            raise ExtractorCrashed(f"extractor process died on {url} ({type(e).__name__})") from None
        if not ready:
            self.close()  # the only way to stop a parser stuck in C; the next page starts a fresh child
            raise ExtractionTimeout(f"{self.extractor} took longer than html.time_limit_s={self.time_limit_s:g} s on {url}")
        if not ok:
            raise ExtractorCrashed(f"{self.extractor} raised {value} on {url}")
        return value


class UrlBlocklist:
    """Blocked domains (a host or any subdomain of it) and URL regular expressions."""

    def __init__(self, domains: list[str], patterns: list[str]):
        self.domains = frozenset(d.strip().lower().lstrip(".") for d in domains if d.strip())
        self.patterns = [re.compile(p) for p in patterns]

    @staticmethod
    def read_domains_file(path: str) -> list[str]:
        lines = storage.read_text(path).splitlines()
        return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]

    def match(self, url: str | None) -> str | None:
        """The rule that blocks `url` ("domain:<d>" or "pattern:<p>"), or None."""
        if not url:
            return None
        try:
            host = (urlsplit(url).hostname or "").rstrip(".")
        except ValueError:  # e.g. an unbalanced IPv6 bracket: no host to judge, patterns still apply
            host = ""
        labels = host.split(".")
        for i in range(len(labels)):
            if ".".join(labels[i:]) in self.domains:
                return f"domain:{'.'.join(labels[i:])}"
        for p in self.patterns:
            if p.search(url):
                return f"pattern:{p.pattern}"
        return None


class HtmlExtractor(DocumentTransform):
    name = "html_extract"
    _unpicklable = ("_process",)

    def __init__(self, cfg: HtmlExtractConfig):
        self.cfg = cfg
        domains = list(cfg.blocked_domains)
        if cfg.blocked_domains_file:
            domains += UrlBlocklist.read_domains_file(cfg.blocked_domains_file)
        self.blocklist = UrlBlocklist(domains, cfg.blocked_url_patterns)
        self._process: ExtractorProcess | None = None

    def setup(self) -> None:
        logging.getLogger("trafilatura").setLevel(logging.ERROR)  # it logs every empty page as an error
        if self.cfg.time_limit_s and self._process is None:
            self._process = ExtractorProcess(self.cfg.extractor, self.cfg.include_tables, self.cfg.time_limit_s)
            self._process.start()

    def _extract(self, html: str, url: str | None) -> str:
        if self.cfg.time_limit_s:
            if self._process is None:
                self.setup()
            return self._process.extract(html, url)
        return extract_main_text(html, self.cfg.extractor, url, self.cfg.include_tables)

    def __call__(self, doc: Document) -> TransformResult:
        rule = self.blocklist.match(doc.url)
        if rule:
            return Drop("url_blocked", {"rule": rule})
        meta = doc.meta
        if meta.get("warc_type") == "conversion":  # WET: the crawler already extracted the text
            return doc if doc.text.strip() else Drop("html_empty_after_extraction", {"html_chars": 0})
        mime = meta.get("mime", "text/html")
        if mime not in HTML_MIMES:
            return Drop("html_non_html", {"mime": mime or "unknown"})
        status = meta.get("http_status")
        if status is not None and not 200 <= int(status) < 300:
            return Drop("html_http_status", {"http_status": int(status)})
        text = self._extract(doc.text, doc.url).strip() if doc.text.strip() else ""
        if not text:
            return Drop("html_empty_after_extraction", {"html_chars": len(doc.text)})
        out = doc.with_text(text)
        out.meta["html_extractor"] = self.cfg.extractor
        out.meta["html_chars"] = len(doc.text)
        return out
