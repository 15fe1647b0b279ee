"""``fttui --web``: only the holder of the printed URL, from this server's own pages, drives the wizard."""
from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest
from aiohttp import ClientSession, WSServerHandshakeError

from fttui import cli
from fttui.tui.web import GuardedServer

TOKEN = "s3cret-token-for-tests"
# A stand-in for `python -m fttui`: it lives until textual-serve sends its first packet (the quit on close).
IDLE_APP = f"{sys.executable} -c \"import sys; sys.stdin.buffer.read(1)\""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(server: GuardedServer, host: str = "127.0.0.1"):
    """``server`` listening on its port in a background thread until the block ends."""
    from aiohttp import web

    loop, ready, stop = asyncio.new_event_loop(), threading.Event(), []

    async def main():
        stop.append(asyncio.Event())
        runner = web.AppRunner(await server._make_app())
        await runner.setup()
        await web.TCPSite(runner, host, server.port).start()
        ready.set()
        await stop[0].wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(20)


@pytest.fixture
def served():
    """A GuardedServer (with a stand-in app) listening on a free port; yields it."""
    with running(GuardedServer(IDLE_APP, port=free_port(), token=TOKEN, max_sessions=2)) as server:
        yield server


def fetch(coro):
    return asyncio.run(coro)


async def get(port: int, path: str, **headers):
    async with ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}{path}", headers=headers) as response:
            return response.status, await response.text(), response.cookies


async def open_socket(port: int, path: str, **headers):
    session = ClientSession()
    try:
        return session, await session.ws_connect(f"http://127.0.0.1:{port}{path}", headers=headers)
    except Exception:
        await session.close()
        raise


def test_the_page_needs_the_token(served):
    status, text, _ = fetch(get(served.port, "/"))
    assert status == 403 and "token" in text
    status, _, _ = fetch(get(served.port, "/?token=wrong"))
    assert status == 403
    status, page, cookies = fetch(get(served.port, f"/?token={TOKEN}"))
    assert status == 200
    assert f"ws://127.0.0.1:{served.port}/ws/{TOKEN}" in page  # the socket goes to the host the browser used
    assert cookies["fttui_token"].value == TOKEN and cookies["fttui_token"]["samesite"] == "Strict"


def test_a_cookie_from_the_token_opens_the_page_again(served):
    status, _, _ = fetch(get(served.port, "/", Cookie=f"fttui_token={TOKEN}"))
    assert status == 200


def test_a_foreign_host_header_is_refused_even_with_the_token(served):
    """DNS rebinding: the browser thinks it talks to attacker.example, which resolves to 127.0.0.1."""
    status, text, _ = fetch(get(served.port, f"/?token={TOKEN}", Host=f"attacker.example:{served.port}"))
    assert status == 403 and "Host" in text


def test_static_files_are_public_but_host_checked(served):
    assert fetch(get(served.port, "/static/css/xterm.css"))[0] == 200
    assert fetch(get(served.port, "/static/css/xterm.css", Host="evil.example"))[0] == 403


@pytest.mark.parametrize("origin", ["https://attacker.example", "http://localhost:1", "null"])
def test_a_websocket_from_another_site_is_refused(served, origin):
    async def attempt():
        with pytest.raises(WSServerHandshakeError) as refused:
            await open_socket(served.port, f"/ws/{TOKEN}", Origin=origin)
        return refused.value.status

    assert fetch(attempt()) == 403


def test_a_websocket_without_the_token_is_refused(served):
    async def attempt():
        with pytest.raises(WSServerHandshakeError) as refused:
            await open_socket(served.port, "/ws", Origin=f"http://localhost:{served.port}")
        return refused.value.status

    assert fetch(attempt()) == 403


def test_sessions_are_capped(served):
    async def attempt():
        origin = f"http://127.0.0.1:{served.port}"
        opened = [await open_socket(served.port, f"/ws/{TOKEN}", Origin=origin) for _ in range(2)]
        try:
            with pytest.raises(WSServerHandshakeError) as refused:
                await open_socket(served.port, f"/ws/{TOKEN}", Origin=origin)
            status = refused.value.status
        finally:
            for session, socket_ in opened:
                await socket_.close()
                await session.close()
        # a closed tab frees its place
        for _ in range(50):
            if served.sessions == 0:
                break
            await asyncio.sleep(0.1)
        session, socket_ = await open_socket(served.port, f"/ws/{TOKEN}", Origin=origin)
        await socket_.close()
        await session.close()
        return status

    assert fetch(attempt()) == 503


def test_a_taken_port_is_a_clear_error_not_a_traceback():
    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "fttui", "--web", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr and "Serving" not in result.stdout


def test_the_served_url_carries_a_random_token_and_stops_on_sigterm():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "fttui", "--web", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()
        assert f"http://localhost:{port}/?token=" in line
        token = line.rsplit("token=", 1)[1].strip()
        assert len(token) >= 24
        deadline = time.monotonic() + 10
        while True:  # the URL is printed only once the port is bound
            try:
                assert fetch(get(port, f"/?token={token}"))[0] == 200
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        process.terminate()
        assert process.wait(20) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        process.kill()


def test_web_options_reach_the_server(monkeypatch):
    built = []
    monkeypatch.setattr(GuardedServer, "serve", lambda self, debug=False: built.append(self))
    assert cli.main(["--web", "--port", "8123", "--token", TOKEN, "--max-sessions", "3"]) == 0
    (server,) = built
    assert (server.port, server.token, server.max_sessions) == (8123, TOKEN, 3)
    assert server.command.endswith("-m fttui")  # each browser session runs the wizard itself
    built.clear()
    assert cli.main(["--web", "--no-token"]) == 0
    assert built[0].port == 8000 and built[0].token is None and built[0].max_sessions == 2
    built.clear()
    assert cli.main(["--web"]) == 0
    assert len(built[0].token) >= 24


@pytest.mark.parametrize("argv,message", [
    (["--port", "8123"], "--port goes with --web"),
    (["--token", "abcdefghij"], "--token goes with --web"),
    (["--web", "--preset", "quickstart"], "--web serves the wizard"),
    (["--web", "--token", "abcdefghij", "--no-token"], "do not go together"),
    (["--web", "--token", "short"], "too short"),
    (["--web", "--max-sessions", "0"], "at least 1"),
    (["--web", "--port", "70000"], "between 1 and 65535"),
])
def test_web_misuse_is_a_usage_error(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err
