"""`serve-protect`'s HTTP server: one page, two POST endpoints, hardened for a laptop.

* GET /             the page (webapp/page.py; no external resource).
* POST /api/preview multipart `photos` (the first is used) + `preset` -> JSON: original, protected and
                    amplified-difference PNGs as data URLs, PSNR, seconds, caption to post.
* POST /api/protect multipart `photos` (1..MAX_FILES) + `preset` -> protected-photos.zip: the protected photos
                    in their own format, captions_to_post.csv/.txt and POST_WITH_CAPTIONS.txt.

Hardening: bound to 127.0.0.1 unless told otherwise; the Host header must name this server (DNS rebinding);
POSTs need the `X-Corpusforge` header the page sends (a cross-site form cannot set it) and a session cookie
(HttpOnly, SameSite=Strict) from the page; Content-Length is checked before a byte of the body is read
(MAX_REQUEST_BYTES), each file too (MAX_FILE_BYTES), and image headers against MAX_PIXELS before decoding;
only content-sniffed JPEG/PNG/WebP is accepted, whatever the name or declared type says; names of uploads are
reduced to a safe base name (no directory part, no "..", extension from the sniffed format), so zip entries
cannot traverse; one job at a time per session (409 otherwise). Uploads, results and the zip are held in
memory only: nothing is written to disk, so no temporary file can be left behind.
"""
from __future__ import annotations

import base64
import email.parser
import email.policy
import io
import json
import logging
import re
import secrets
import threading
import time
import urllib.parse
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath, PureWindowsPath

from corpusforge.unlearnable import photos
from corpusforge.unlearnable.data import ImageError
from corpusforge.webapp.page import render

log = logging.getLogger("corpusforge.webapp")

COOKIE = "cf_session"


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int = 64 * 1024 * 1024
    max_file_bytes: int = 25 * 1024 * 1024
    max_files: int = 20
    max_pixels: int = 25_000_000


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def safe_name(upload_name: str | None, fmt: str, taken: set[str]) -> str:
    """A client-supplied file name -> a base name safe as a zip entry: directory parts (either separator)
    dropped, characters outside [A-Za-z0-9._ -] replaced, no leading dot, at most 100 characters, the extension
    of the sniffed format, unique within `taken` (which it is added to)."""
    base = PureWindowsPath(PurePosixPath(upload_name or "").name).name  # both "/" and "\\" separators
    stem = re.sub(r"[^A-Za-z0-9._ -]", "_", base.rsplit(".", 1)[0] if "." in base else base).strip(" .")[:100]
    stem = stem or "photo"
    ext = photos.output_ext(fmt)
    name, k = f"{stem}{ext}", 2
    while name in taken:
        name, k = f"{stem}-{k}{ext}", k + 1
    taken.add(name)
    return name


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """multipart/form-data -> ({field: value}, [(file name, bytes)] of the `photos` field), standard library."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise HTTPError(400, "expected multipart/form-data")
    fields, files = {}, []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "photos":
            files.append((part.get_filename() or "", payload))
        elif name:
            fields[name] = payload.decode("utf-8", "replace")[:20_000]
    return fields, files


class App:
    """The state the handler shares: the frozen surrogate, limits, and the sessions' job locks."""

    def __init__(self, surrogate, limits: Limits = Limits(), seed: int = 0):
        self.surrogate, self.limits, self.seed = surrogate, limits, seed
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.compute = threading.Lock()  # one CPU-heavy job at a time on the machine

    def session_lock(self, sid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(sid, threading.Lock())

    def decode_all(self, files: list[tuple[str, bytes]]) -> list[tuple[str, photos.Photo]]:
        lim = self.limits
        if not files:
            raise HTTPError(400, "no photo uploaded")
        if len(files) > lim.max_files:
            raise HTTPError(413, f"at most {lim.max_files} photos per job")
        taken: set[str] = set()
        out = []
        for upload, data in files:
            if len(data) > lim.max_file_bytes:
                raise HTTPError(413, f"a photo is over {lim.max_file_bytes // (1024 * 1024)} MB")
            try:
                photo = photos.decode_photo(data, PurePosixPath("upload"), lim.max_pixels)
            except ImageError as exc:
                status = 413 if exc.reason == "image_too_large" else 415
                shown = re.sub(r"[^A-Za-z0-9._ -]", "_", PurePosixPath(upload).name)[:60]
                raise HTTPError(status, f"{shown or 'file'}: {'too many pixels' if status == 413 else 'not a JPEG, PNG or WebP image'}")
            out.append((safe_name(upload, photo.format, taken), photo))
        return out

    def job(self, named, preset: str) -> photos.Job:
        if preset not in photos.PRESETS:
            raise HTTPError(400, f"unknown preset {preset!r}")
        return photos.Job.make(self.surrogate, [n for n, _ in named], {}, preset, self.seed)

    def preview(self, files, preset: str, names: list[str] | None = None) -> dict:
        """Protect the first photo. `names`: every photo the page holds, in order, so the trigger and the
        negatives (both derived from all captions) equal those of the later zip job."""
        named = self.decode_all(files[:1])
        taken = {named[0][0]}
        rest = [safe_name(n, named[0][1].format, taken) for n in (names or [])[1:self.limits.max_files]]
        job = self.job(named + [(n, None) for n in rest], preset)
        r = photos.preview(job, 0, named[0][1])
        url = {k: "data:image/png;base64," + base64.b64encode(r[f"{k}.png"]).decode()
               for k in ("original", "protected", "difference")}
        return {**url, "psnr": r["psnr"], "seconds": r["seconds"], "caption": job.caption_to_post(0),
                "name": named[0][0]}

    def protect(self, files, preset: str) -> tuple[bytes, list[tuple[str, str]]]:
        named = self.decode_all(files)
        job = self.job(named, preset)
        buf = io.BytesIO()
        rows = []
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            for i, (name, photo) in enumerate(named):
                data, _, _ = job.protect(i, photo)
                z.writestr(name, data)
                rows.append((name, job.caption_to_post(i)))
            for name, data in photos.captions_files(rows).items():
                z.writestr(name, data)
            z.writestr("POST_WITH_CAPTIONS.txt", "Post each photo together with its caption from "
                       "captions_to_post.csv: the protection ties the noise in the photo to the first words of "
                       "the caption. GPS location was removed from EXIF; XMP/IPTC blocks were dropped.\n")
        return buf.getvalue(), rows


def make_handler(app: App):
    class Handler(BaseHTTPRequestHandler):
        server_version = "corpusforge"
        sys_version = ""

        def log_message(self, fmt, *args):  # to our logger, not stderr
            log.info("%s %s", self.address_string(), fmt % args)

        # ------------------------------------------------------------------ plumbing
        def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", "default-src 'none'; img-src data: blob:; "
                             "style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: dict, headers: dict | None = None) -> None:
            self._send(status, json.dumps(obj).encode(), "application/json", headers)

        def _host_ok(self) -> bool:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
            bound = self.server.server_address[0]
            return host in ("127.0.0.1", "localhost", "::1") or host == bound

        def _session(self) -> str | None:
            for part in (self.headers.get("Cookie") or "").split(";"):
                k, _, v = part.strip().partition("=")
                if k == COOKIE and re.fullmatch(r"[A-Za-z0-9_-]{20,64}", v):
                    return v
            return None

        # ------------------------------------------------------------------ routes
        def do_GET(self):
            if not self._host_ok():
                return self._json(421, {"error": "unexpected Host header"})
            if urllib.parse.urlsplit(self.path).path != "/":
                return self._json(404, {"error": "not found"})
            sid = self._session() or secrets.token_urlsafe(24)
            self._send(200, render(photos.PRESETS, photos.DEFAULT_PRESET).encode(), "text/html; charset=utf-8",
                       {"Set-Cookie": f"{COOKIE}={sid}; HttpOnly; SameSite=Strict; Path=/"})

        def do_POST(self):
            try:
                self._post()
            except HTTPError as e:
                self._json(e.status, {"error": e.message}, {"Connection": "close"})
                self.close_connection = True

        def _post(self):
            if not self._host_ok():
                raise HTTPError(421, "unexpected Host header")
            route = urllib.parse.urlsplit(self.path).path
            if route not in ("/api/preview", "/api/protect"):
                raise HTTPError(404, "not found")
            if self.headers.get("X-Corpusforge") != "1":
                raise HTTPError(403, "requests must come from the page")
            sid = self._session()
            if sid is None:
                raise HTTPError(403, "no session: open the page first")
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                raise HTTPError(411, "Content-Length required")
            if length < 0 or length > app.limits.max_request_bytes:
                raise HTTPError(413, f"upload over {app.limits.max_request_bytes // (1024 * 1024)} MB")
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("multipart/form-data"):
                raise HTTPError(415, "expected multipart/form-data")
            lock = app.session_lock(sid)
            if not lock.acquire(blocking=False):
                raise HTTPError(409, "a job is already running for this page; wait for it to finish")
            try:
                body = self.rfile.read(length)
                fields, files = parse_multipart(ctype, body)
                del body
                preset = fields.get("preset", photos.DEFAULT_PRESET)
                with app.compute:
                    t0 = time.perf_counter()
                    if route == "/api/preview":
                        try:
                            names = [str(n) for n in json.loads(fields.get("names") or "[]")]
                        except (ValueError, TypeError):
                            raise HTTPError(400, "names must be a JSON list")
                        result = app.preview(files, preset, names)
                        log.info("preview %s in %.1fs", result["name"], time.perf_counter() - t0)
                        return self._json(200, result)
                    data, rows = app.protect(files, preset)
                    log.info("protected %d photos in %.1fs", len(rows), time.perf_counter() - t0)
                caps = urllib.parse.quote("\n".join(f"{n}\t{c}" for n, c in rows))
                self._send(200, data, "application/zip", {
                    "Content-Disposition": 'attachment; filename="protected-photos.zip"',
                    "X-Captions-To-Post": caps})
            finally:
                lock.release()

    return Handler


def make_server(app: App, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(app))
    server.daemon_threads = True
    return server
