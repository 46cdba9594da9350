"""The HTML report renders in a real headless browser: a screenshot that is not blank, every plot in
the page, and no console error. Chromium (Debian's ``chromium``) is driven over the DevTools protocol
through a pipe (``--remote-debugging-pipe``), with the standard library only; skipped without it.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
import zlib

import pytest

from fastbuild.cli import main
from fastbuild.report.figures import FIGURE_IDS

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium (apt-get install chromium)")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--remote-debugging-pipe", "--window-size=1400,1000")
TIMEOUT = 30.0


class Browser:
    """Headless Chromium with one page, spoken to in DevTools protocol messages (JSON + NUL) over fds 3 and 4."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="fastbuild-chromium-")
        to_chrome, self._send_fd = os.pipe()
        self._recv_fd, from_chrome = os.pipe()

        def pipes():  # in the child: its fd 3 reads our commands, fd 4 writes its answers
            a, b = os.dup(to_chrome), os.dup(from_chrome)  # new numbers: neither dup2 below clobbers the other
            os.dup2(a, 3)
            os.dup2(b, 4)
            for fd in (3, 4):  # dup2 onto the same number keeps close-on-exec
                os.set_inheritable(fd, True)

        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False,
                                     preexec_fn=pipes)
        os.close(to_chrome)
        os.close(from_chrome)
        self._buf, self._id, self.events = b"", 0, []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _read(self) -> dict:
        """The next message (TimeoutError when Chromium says nothing for TIMEOUT seconds)."""
        while b"\0" not in self._buf:
            if not select.select([self._recv_fd], [], [], TIMEOUT)[0]:
                raise TimeoutError(f"chromium said nothing for {TIMEOUT:.0f} s")
            chunk = os.read(self._recv_fd, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method: str, session: bool = False, **params) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._send_fd, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(method)

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(url)
            self.events.append(self._read())

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries since the last :meth:`open`."""
        out = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(p["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(p["entry"].get("text", ""))
        return out

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)["result"]["value"]

    def screenshot(self) -> bytes:
        """A PNG of the whole page (beyond the window)."""
        size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.call("Page.captureScreenshot", session=True, format="png", clip=clip, captureBeyondViewport=True)
        return base64.b64decode(data["data"])

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._send_fd, self._recv_fd):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


def png_colours(png: bytes) -> tuple[int, int, int]:
    """(width, height, distinct pixel values in the first 400 rows) of an 8-bit RGB/RGBA PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, head = 8, b"", None
    while pos < len(png):
        n = int.from_bytes(png[pos:pos + 4], "big")
        kind, body = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + n]
        head = body if kind == b"IHDR" else head
        idat += body if kind == b"IDAT" else b""
        pos += 12 + n
    width, height, depth, colour = int.from_bytes(head[:4], "big"), int.from_bytes(head[4:8], "big"), head[8], head[9]
    assert depth == 8 and colour in (2, 6)
    raw, bpp = zlib.decompress(idat), 3 if colour == 2 else 4
    stride, prev, seen = width * bpp, bytearray(width * bpp), set()
    for y in range(min(height, 400)):  # undo the PNG row filters
        f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            pred = (0, a, b, (a + b) // 2, a + b - c)[f]
            if f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            row[i] = (row[i] + pred) & 0xFF
        seen.update(bytes(row[i:i + bpp]) for i in range(0, stride, bpp * 7))
        prev = row
    return width, height, len(seen)


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report_browser") / "demo"
    assert main(["build", "--output-dir", str(out), "--no-progress", "--kmer-sizes", "0",
                 "--split", "region:test=NC_003070.9:1-300000;train=rest"]) == 0
    return out / "report.html"


PLOTS_JS = """JSON.stringify(Array.from(document.querySelectorAll('svg.plot')).map(s => {
  const r = s.getBoundingClientRect();
  return {id: s.id, w: r.width, h: r.height, marks: s.querySelectorAll('rect.bar, path.series').length};
}))"""


def test_report_renders_in_headless_chromium(browser, report, tmp_path):
    browser.open(report.as_uri())
    assert browser.errors() == []
    plots = json.loads(browser.evaluate(PLOTS_JS))
    assert [p["id"] for p in plots] == list(FIGURE_IDS)
    for p in plots:
        assert p["w"] > 300 and p["h"] > 150 and p["marks"] > 0, p  # laid out, with bars or lines drawn
    assert browser.evaluate("document.querySelectorAll('.missing').length") == 0
    png = browser.screenshot()
    (tmp_path / "report.png").write_bytes(png)
    width, height, colours = png_colours(png)
    assert width >= 1000 and height > 3000 and colours > 20  # the whole page, not a blank one


def test_the_checks_can_fail(browser, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text('<html><body><img src="no_such_file.png">'
                      "<script>console.error('deliberate'); no_such_function();</script></body></html>")
    browser.open(broken.as_uri())
    errors = browser.errors()
    assert any("deliberate" in e for e in errors) and any("no_such_function" in e or "Uncaught" in e for e in errors)
    assert any("ERR_FILE_NOT_FOUND" in e for e in errors), errors  # a file the page fetches and lacks
    assert json.loads(browser.evaluate(PLOTS_JS)) == []
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body></body></html>")
    browser.open(blank.as_uri())
    assert browser.errors() == [] and png_colours(browser.screenshot())[2] <= 2  # a blank page is seen as blank
