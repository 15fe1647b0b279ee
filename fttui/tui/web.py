"""``fttui --web``: the wizard in a browser, served on localhost only to whoever holds the printed URL.

A page on another site can open a WebSocket to localhost, and a DNS-rebinding page can make the browser
send any ``Host``; either would let it drive the wizard (start training, export, overwrite). So, like
Jupyter: a random token in the URL (or a cookie set from it), the ``Host`` and ``Origin`` headers must
name this server, and at most ``max_sessions`` browser tabs run an app process at once.
"""
from __future__ import annotations

import asyncio
import errno
import hmac
import secrets
import signal
import sys

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

from fttui.errors import ConfigError

COOKIE = "fttui_token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_MAX_SESSIONS = 2


def make_token() -> str:
    return secrets.token_urlsafe(24)


class GuardedServer(Server):
    """textual-serve's server with a token, Host/Origin checks and a cap on concurrent sessions."""

    def __init__(self, command: str, port: int = 8000, token: str | None = None,
                 max_sessions: int = DEFAULT_MAX_SESSIONS, title: str = "fttui"):
        super().__init__(command, host="localhost", port=port, title=title)
        self.token = token  # None: no token (a trusted machine, --no-token)
        self.max_sessions = max_sessions
        self.sessions = 0
        self.hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES}
        if port == 80:
            self.hosts |= set(LOOPBACK_NAMES)
        self.origins = {f"http://{host}" for host in self.hosts}

    @property
    def url(self) -> str:
        return f"{self.public_url}/?token={self.token}" if self.token else f"{self.public_url}/"

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.router.add_get("/ws/{token}", self.handle_websocket)  # the page's socket carries the token itself
        app.middlewares.append(self._guard)
        return app

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict:
        """The page, with its socket and scripts on the host the browser used (localhost or 127.0.0.1)."""
        context = await Server.handle_index.__wrapped__(self, request)
        context["app_websocket_url"] = f"ws://{request.host}/ws" + (f"/{self.token}" if self.token else "")
        context["config"]["static"]["url"] = f"http://{request.host}/static/"
        return context

    def _authorised(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.query.get("token") or request.cookies.get(COOKIE) or request.match_info.get("token") or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        if request.host not in self.hosts:
            return web.Response(status=403, text=f"fttui: unexpected Host header {request.host[:80]!r}; "
                                                 f"open {self.public_url}/ instead\n")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.origins:
            return web.Response(status=403, text="fttui: requests from other sites are refused\n")
        if request.path.startswith("/static/"):
            return await handler(request)  # the page's public scripts and fonts
        if not self._authorised(request):
            return web.Response(status=403, text="fttui: open the URL with the token that `fttui --web` printed "
                                                 "(…/?token=…)\n")
        response = await handler(request)
        if self.token and request.query.get("token") and isinstance(response, web.Response):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        if self.sessions >= self.max_sessions:
            return web.Response(status=503, text=f"fttui: {self.sessions} sessions are open already (the limit); "
                                                 "close a tab, or start fttui --web --max-sessions N\n")
        self.sessions += 1
        try:
            return await super().handle_websocket(request)
        finally:
            self.sessions -= 1

    async def on_startup(self, app: web.Application) -> None:
        """Say nothing yet: the URL is printed once the port is really bound (see ``serve``)."""

    def serve(self, debug: bool = False) -> None:
        self.debug = debug
        self.initialize_logging()
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        runner = web.AppRunner(await self._make_app(), handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as error:
            await runner.cleanup()
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {self.port} is already in use (another fttui --web, or another server)",
                                  f"choose another port: fttui --web --port {self.port + 1}") from None
            raise ConfigError(f"cannot listen on localhost:{self.port}: {error.strerror or error}",
                              "choose another port with --port N") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        print(f"fttui: serving the wizard at {self.url}", file=sys.stderr)
        if self.token:
            print("       (the token keeps other users and web pages out; anyone with this URL can drive fttui)",
                  file=sys.stderr)
        print(f"       at most {self.max_sessions} browser tabs at once; Ctrl+C to stop", file=sys.stderr)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


def serve_wizard(command: str, port: int, token: str | None, use_token: bool, max_sessions: int) -> int:
    """Build and run the guarded server; ``token`` None with ``use_token`` draws a random one."""
    if max_sessions < 1:
        raise ConfigError(f"--max-sessions must be at least 1 (got {max_sessions})")
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535 (got {port})")
    if token is not None and not use_token:
        raise ConfigError("--token and --no-token do not go together")
    if token is not None and len(token) < 8:
        raise ConfigError("--token is too short to keep anyone out", "use at least 8 characters, or leave it out "
                                                                     "for a random one")
    GuardedServer(command, port=port, token=(token or make_token()) if use_token else None,
                  max_sessions=max_sessions).serve()
    return 0
