"""``fttui --web`` in a real headless Chromium: the page loads with the token, and the keys the footer shows
there (alt+n, alt+q: the browser keeps ctrl+n and ctrl+q) reach the wizard and move it on.

Chromium is driven through its DevTools protocol. The app draws on a canvas, so what it shows is read from
the bytes the server sends the page (the app's terminal output), not from the picture.
"""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time

import aiohttp
import pytest

from fttui.tui.web import GuardedServer

from .test_cli_web import free_port, running

BROWSER = next((path for path in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if path), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine (.ci/run installs it)")
TOKEN = "browser-test-token"
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\x1b\][^\x07]*\x07")


class Screen:
    """Everything the app has drawn so far, as text (escape sequences removed)."""

    def __init__(self):
        self.raw = bytearray()

    def text(self) -> str:
        return ANSI.sub(b"", bytes(self.raw)).decode("utf-8", "replace")

    def mark(self) -> int:
        return len(self.raw)

    def since(self, mark: int) -> str:
        return ANSI.sub(b"", bytes(self.raw[mark:])).decode("utf-8", "replace")


@pytest.fixture
def served_wizard(workdir, monkeypatch):
    """The real wizard (``python -m fttui``) behind a GuardedServer in a thread; yields (server, screen)."""
    import textual_serve.server as serve_module

    screen = Screen()

    class Recorded(serve_module.AppService):  # keep a copy of what the app sends the page
        def __init__(self, *args, write_bytes, **kwargs):
            async def write(data: bytes):
                screen.raw.extend(data)
                return await write_bytes(data)

            super().__init__(*args, write_bytes=write, **kwargs)

    monkeypatch.setattr(serve_module, "AppService", Recorded)
    with running(GuardedServer(f"{sys.executable} -m fttui", port=free_port(), token=TOKEN), "localhost") as server:
        yield server, screen


class Browser:
    """Just enough of the DevTools protocol: navigate, evaluate, click, press keys."""

    def __init__(self, http, socket):
        self.http, self.socket, self.next_id = http, socket, 0

    async def call(self, method: str, **params):
        self.next_id += 1
        ident = self.next_id
        await self.socket.send_json({"id": ident, "method": method, "params": params})
        async for message in self.socket:
            data = json.loads(message.data)
            if data.get("id") == ident:
                return data.get("result", {})
        raise AssertionError("the browser closed its DevTools socket")

    async def press_alt(self, letter: str) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent", type=kind, key=letter, code=f"Key{letter.upper()}",
                            modifiers=1, windowsVirtualKeyCode=ord(letter.upper()))

    async def click(self, x: int, y: int) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


async def until(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def test_the_wizard_in_a_browser_moves_on_with_the_keys_its_footer_shows(served_wizard, tmp_path):
    server, screen = served_wizard
    debug_port = free_port()
    chrome = subprocess.Popen(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--remote-debugging-port={debug_port}",
         "--window-size=1280,900", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def drive():
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    targets = await (await http.get(f"http://127.0.0.1:{debug_port}/json")).json()
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            page = next(target for target in targets if target["type"] == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                browser = Browser(http, socket)
                await browser.call("Page.enable")
                await browser.call("Page.navigate", url=f"http://localhost:{server.port}/?token={TOKEN}")
                await until(lambda: "GPUs" in screen.text(), "the Hardware step in the page", 120)
                await until(lambda: "alt+n" in screen.text(), "the footer's browser keys")
                assert "alt+c" in screen.text()  # the command palette: Chrome keeps ctrl+p for printing
                assert "ctrl+n" not in screen.text() and "^n" not in screen.text() and "^p" not in screen.text()
                await browser.click(640, 400)  # focus the terminal, as a user's first click does
                mark = screen.mark()
                await browser.press_alt("n")
                await until(lambda: "The model to fine-tune" in screen.since(mark), "the Model step after alt+n")
                mark = screen.mark()
                await browser.press_alt("n")
                await until(lambda: "trainable" in screen.since(mark), "the Method step after alt+n")
                assert server.sessions == 1
                await browser.press_alt("q")  # nothing is training: the wizard quits at once
                await until(lambda: server.sessions == 0, "the wizard to quit on alt+q")

    try:
        asyncio.run(drive())
    finally:
        chrome.kill()
        chrome.wait()
