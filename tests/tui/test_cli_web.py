"""``fttui --web [--port N]`` builds a textual-serve server for the wizard (not started here)."""
from __future__ import annotations

import pytest

from fttui import cli


def test_web_with_a_port_builds_the_server_for_the_wizard(monkeypatch):
    from textual_serve.server import Server

    served = []
    monkeypatch.setattr(Server, "serve", lambda self, debug=False: served.append(self))
    args = cli.build_parser().parse_args(["--web", "--port", "8123"])
    assert args.web and args.port == 8123
    assert cli.main(["--web", "--port", "8123"]) == 0
    (server,) = served
    assert (server.host, server.port) == ("localhost", 8123)
    assert server.command.endswith("-m fttui")  # each browser session runs the wizard itself


def test_web_defaults_to_port_8000(monkeypatch):
    from textual_serve.server import Server

    served = []
    monkeypatch.setattr(Server, "serve", lambda self, debug=False: served.append(self))
    assert cli.main(["--web"]) == 0
    assert served[0].port == 8000


@pytest.mark.parametrize("argv,message", [
    (["--port", "8123"], "--port goes with --web"),
    (["--web", "--preset", "quickstart"], "--web serves the wizard"),
])
def test_web_misuse_is_a_usage_error(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err
