"""serve-protect (issue 18): the real HTTP server with a real frozen cf-tiny surrogate; an end-to-end run in
headless Chromium (Selenium + chromium-driver) that uploads scikit-image photos and checks the downloaded zip;
negative tests over real HTTP for oversize bodies, non-images, traversal names, missing header/session,
foreign Host and a second job of one session."""
from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from corpusforge.unlearnable import frozen
from corpusforge.unlearnable.surrogate import load_surrogate
from corpusforge.webapp.server import App, Limits, make_server, safe_name

from skimage import data as skdata  # noqa: E402 - a runtime requirement (requirements.txt)
# Screenshots for the docs only when asked (CORPUSFORGE_SCREENSHOTS=1): a test run leaves tracked files alone.
DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def server():
    torch.set_num_threads(1)
    app = App(frozen.freeze(load_surrogate("cf-tiny", None, "cpu", 0)),
              Limits(max_request_bytes=3_000_000, max_file_bytes=2_000_000, max_files=5, max_pixels=1_000_000))
    srv = make_server(app, "127.0.0.1", 0)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield app, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("uploads")
    Image.fromarray(skdata.astronaut()).save(d / "astronaut.jpg", quality=90)
    Image.fromarray(skdata.coffee()).save(d / "coffee.png")
    Image.fromarray(skdata.chelsea()).save(d / "chelsea.webp", quality=90)
    return d


def _session(base: str, host: str | None = None) -> str:
    req = urllib.request.Request(base + "/", headers={"Host": host} if host else {})
    with urllib.request.urlopen(req) as r:
        return r.headers["Set-Cookie"].split(";")[0]


def _multipart(files, preset="low"):
    b = uuid.uuid4().hex
    out = io.BytesIO()
    out.write(f'--{b}\r\nContent-Disposition: form-data; name="preset"\r\n\r\n{preset}\r\n'.encode())
    for name, data in files:
        out.write(f'--{b}\r\nContent-Disposition: form-data; name="photos"; filename="{name}"\r\n'
                  f'Content-Type: image/jpeg\r\n\r\n'.encode() + data + b"\r\n")
    out.write(f"--{b}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={b}"


def _post(base, path, files, cookie, headers=None, body=None):
    data, ctype = _multipart(files) if body is None else (body, "multipart/form-data; boundary=x")
    h = {"Content-Type": ctype, "X-Corpusforge": "1", **({"Cookie": cookie} if cookie else {}), **(headers or {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, data, h)) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


# ------------------------------------------------------------------------------------------ browser
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver  # requirements-dev.txt

    assert shutil.which("chromedriver") and shutil.which("chromium"), (
        "headless Chromium is needed: apt-get install chromium chromium-driver (scripts/test.sh does)")
    downloads = tmp_path_factory.mktemp("downloads")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,1300"):
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver, downloads
    driver.quit()


def _wait(pred, timeout=240):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_browser_preview_and_zip_download(server, photo_files, browser):
    _, base = server
    driver, downloads = browser
    from selenium.webdriver.common.by import By

    driver.get(base + "/")
    driver.find_element(By.ID, "preset").send_keys("low")
    paths = [photo_files / n for n in ("astronaut.jpg", "coffee.png", "chelsea.webp")]
    driver.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in paths))
    driver.find_element(By.ID, "preview-btn").click()
    _wait(lambda: "Preview ready" in driver.find_element(By.ID, "status").text
          or "Error" in driver.find_element(By.ID, "status").text)
    assert driver.find_element(By.ID, "status").text == "Preview ready."
    src = driver.find_element(By.ID, "protected").get_attribute("src")
    assert src.startswith("data:image/png;base64,")
    metrics = driver.find_element(By.ID, "metrics").text
    assert "PSNR" in metrics
    shots = DOCS if os.environ.get("CORPUSFORGE_SCREENSHOTS") == "1" else downloads.parent
    shots.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(shots / "serve-protect.png"))

    driver.find_element(By.ID, "protect-btn").click()
    zpath = _wait(lambda: next((p for p in downloads.glob("*.zip")), None))
    _wait(lambda: not list(downloads.glob("*.crdownload")))
    assert "Done" in driver.find_element(By.ID, "status").text
    with zipfile.ZipFile(zpath) as z:
        names = sorted(z.namelist())
        assert names == sorted(["astronaut.jpg", "coffee.png", "chelsea.webp", "captions_to_post.csv",
                                "captions_to_post.txt", "POST_WITH_CAPTIONS.txt"])
        for p in paths:
            with Image.open(io.BytesIO(z.read(p.name))) as out, Image.open(p) as orig:
                assert out.format == orig.format and out.size == orig.size
                assert not np.array_equal(np.asarray(out), np.asarray(orig))
        caps = z.read("captions_to_post.csv").decode()
        assert "astronaut.jpg," in caps and " coffee" in caps
        first = caps.splitlines()[1].split(",", 1)[1]
        assert metrics.endswith("Caption to post: " + first)  # the preview's trigger is the zip's trigger
    assert "Captions to post" in driver.find_element(By.ID, "captions").text
    assert driver.save_screenshot(str(shots / "serve-protect-done.png"))


# ------------------------------------------------------------------------------------------ hardening
def test_traversal_names_become_safe_entries(server, photo_files):
    _, base = server
    cookie = _session(base)
    jpg = (photo_files / "astronaut.jpg").read_bytes()
    png = (photo_files / "coffee.png").read_bytes()
    status, body, headers = _post(base, "/api/protect", [("../../etc/passwd.jpg", jpg), ("..\\..\\win.png", png),
                                                         ("/abs/.hidden.jpg", jpg), ("passwd.jpg", jpg)], cookie)
    assert status == 200 and headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert names[:4] == ["passwd.jpg", "win.png", "hidden.jpg", "passwd-2.jpg"]
    assert all("/" not in n and "\\" not in n and not n.startswith(".") for n in names)
    assert safe_name("....", "PNG", set()) == "photo.png"
    assert safe_name("cat.jpg", "PNG", set()) == "cat.png"  # the extension follows the content


def test_non_images_are_refused(server, photo_files):
    _, base = server
    cookie = _session(base)
    status, body, _ = _post(base, "/api/protect", [("evil.jpg", b"<script>alert(1)</script>")], cookie)
    assert status == 415 and "not a JPEG" in json.loads(body)["error"]
    gif = io.BytesIO()
    Image.fromarray(skdata.camera()[:64, :64]).save(gif, format="GIF")
    status, _, _ = _post(base, "/api/preview", [("a.png", gif.getvalue())], cookie)
    assert status == 415


def test_oversize_is_refused(server, photo_files):
    app, base = server
    cookie = _session(base)
    # Refused from the headers alone: the server answers before a byte of the (never sent) body.
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
    conn.putrequest("POST", "/api/protect")
    for k, v in {"Content-Type": "multipart/form-data; boundary=x", "X-Corpusforge": "1", "Cookie": cookie,
                 "Content-Length": str(10 * app.limits.max_request_bytes)}.items():
        conn.putheader(k, v)
    conn.endheaders()
    r = conn.getresponse()
    assert r.status == 413 and "upload over" in json.loads(r.read())["error"]
    conn.close()
    big = io.BytesIO()  # 1200x1000 = 1.2 MP, over the 1 MP limit, but a small file
    Image.fromarray(np.zeros((1000, 1200, 3), np.uint8)).save(big, format="PNG")
    status, body, _ = _post(base, "/api/protect", [("big.png", big.getvalue())], cookie)
    assert status == 413 and "pixels" in json.loads(body)["error"]
    many = [("a.jpg", (photo_files / "astronaut.jpg").read_bytes())] * 6
    assert _post(base, "/api/protect", many, cookie)[0] == 413


def test_requests_need_page_session_header_and_host(server, photo_files):
    _, base = server
    jpg = [("a.jpg", (photo_files / "astronaut.jpg").read_bytes())]
    assert _post(base, "/api/preview", jpg, None)[0] == 403  # no session cookie
    cookie = _session(base)
    data, ctype = _multipart(jpg)
    req = urllib.request.Request(base + "/api/preview", data, {"Content-Type": ctype, "Cookie": cookie})
    with pytest.raises(urllib.error.HTTPError) as e:  # a cross-site form cannot add the header
        urllib.request.urlopen(req)
    assert e.value.code == 403
    assert _post(base, "/api/preview", jpg, cookie, {"Host": "evil.example:80"})[0] == 421
    assert _post(base, "/api/../../etc/passwd", jpg, cookie)[0] == 404


def test_one_job_at_a_time_per_session(server, photo_files):
    app, base = server
    cookie = _session(base)
    sid = cookie.split("=", 1)[1]
    lock = app.session_lock(sid)
    assert lock.acquire(blocking=False)  # a job of this session is running
    try:
        status, body, _ = _post(base, "/api/preview", [("a.jpg", (photo_files / "astronaut.jpg").read_bytes())],
                                cookie)
        assert status == 409
        other = _session(base)  # another session is not blocked
        assert _post(base, "/api/preview", [("a.jpg", (photo_files / "astronaut.jpg").read_bytes())],
                     other)[0] == 200
    finally:
        lock.release()
