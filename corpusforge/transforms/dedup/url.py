"""URL normalization and the rule that picks one document per URL.

Two URLs are the same page when they differ only in scheme (http/https), a leading "www.", host case, a
default port, a fragment, tracking parameters (utm_*, gclid, fbclid, ...), the order of query parameters or
a trailing slash.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

TRACKING_PARAMS = frozenset({
    "gclid", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_ga", "_gl",
    "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "rb_clickid", "s_cid", "vero_conv", "vero_id",
    "ref_src", "ref_url", "spm", "scid", "twclid", "ttclid", "li_fat_id",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")


def _is_tracking(name: str) -> bool:
    n = name.lower()
    return n in TRACKING_PARAMS or n.startswith(TRACKING_PREFIXES)


def normalize_url(url: str | None) -> str | None:
    """Canonical form `host[:port]/path[?query]`, or None for an empty or unparsable URL."""
    if not url or not url.strip():
        return None
    raw = url.strip()
    try:
        parts = urlsplit(raw if "://" in raw else "//" + raw)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    if host.startswith("www."):
        host = host[4:]
    if port is not None and not (port == 80 and parts.scheme in ("http", "")) and not (
            port == 443 and parts.scheme == "https"):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    return host + path + ("?" + urlencode(query) if query else "")


def url_keep_order(policy: str, doc_id: str, text_len: int, date: str | None, position: tuple[str, int]):
    """Sort key: the document that sorts first is kept for its URL.

    smallest_id: smallest id. longest: longest text, then smallest id. newest: latest date (ISO strings
    compare in time order; a document without a date counts as oldest), then the record read last, then
    smallest id.
    """
    if policy == "smallest_id":
        return (doc_id,)
    if policy == "longest":
        return (-text_len, doc_id)
    if policy == "newest":
        return (0 if date else 1, _invert(date or ""), _invert(position[0]), -position[1], doc_id)
    raise ValueError(f"unknown url_keep policy {policy!r}")


def _invert(s: str) -> tuple[int, ...]:
    # Descending order for strings inside an ascending sort key.
    return tuple(-ord(c) for c in s) + (1,)
