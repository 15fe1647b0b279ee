"""Every action a browser would take for itself also answers to an alt key; the footer shows the right one."""
from __future__ import annotations

from textual.widgets._footer import FooterKey

from fttui.tui.keys import BROWSER_TAKES, either
from fttui.tui.screens.model import ModelScreen
from fttui.tui.screens.runs import RunsScreen

from .conftest import drive


def footer_keys(app) -> list[str]:
    return [str(key.key_display) for key in app.screen.query(FooterKey)]


def test_alt_keys_move_the_wizard_like_the_ctrl_keys(make_app):
    app = make_app()

    async def body(pilot):
        await pilot.press("alt+n")
        await pilot.pause()
        assert isinstance(app.screen, ModelScreen)
        await pilot.press("alt+r")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)

    drive(app, body)


def test_the_footer_shows_ctrl_keys_in_a_terminal_and_alt_keys_in_a_browser(make_app, monkeypatch):
    shown = {}
    for web in (False, True):
        app = make_app()
        monkeypatch.setattr(type(app), "is_web", property(lambda self, web=web: web))

        async def body(pilot, web=web):
            await pilot.pause()
            shown[web] = footer_keys(app)

        drive(app, body)
    assert "^n" in shown[False] and "alt+n" not in " ".join(shown[False])
    assert any("alt+n" in key or "⌥" in key for key in shown[True]) and "^n" not in shown[True]
    assert "^p" not in shown[True] and "^q" not in shown[True]


def test_every_key_a_browser_takes_has_a_stand_in_that_is_not_taken():
    assert set(BROWSER_TAKES.values()).isdisjoint(BROWSER_TAKES)
    assert len(set(BROWSER_TAKES.values())) == len(BROWSER_TAKES)
    assert either("ctrl+n") == "ctrl+n,alt+n" and either("escape") == "escape"
