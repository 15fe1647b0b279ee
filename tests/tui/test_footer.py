"""The footer every screen shows: right keys after screen switches, rebuilt only when they change, no leak."""
from __future__ import annotations

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets._footer import FooterKey

from fttui.tui.widgets.footer import Footer, stale_key_watchers

from .conftest import drive


class Keys(Screen):
    BINDINGS = [Binding("s", "stop", "Stop"), Binding("e", "export", "Export")]

    def __init__(self):
        super().__init__()
        self.can_export = True

    def compose(self):
        yield Footer()

    def check_action(self, action, parameters):
        return None if action == "export" and not self.can_export else True  # None: shown, disabled


class Other(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self):
        yield Footer()


class Bare(App):
    ENABLE_COMMAND_PALETTE = False


def shown(screen) -> list[tuple[str, bool]]:
    return [(key.description, key.has_class("-disabled")) for key in screen.query_one(Footer).query(FooterKey)]


async def visit_other(app, pilot) -> None:
    await app.push_screen(Other())
    await pilot.pause()
    assert shown(app.screen) == [("Back", False)]
    await app.pop_screen()
    await pilot.pause()


def test_keys_are_right_after_switching_screens_and_old_keys_are_let_go():
    app = Bare()

    async def body(pilot):
        keys = Keys()
        await app.push_screen(keys)
        await pilot.pause()
        assert shown(keys) == [("Stop", False), ("Export", False)]
        for _ in range(12):
            await visit_other(app, pilot)
        assert shown(keys) == [("Stop", False), ("Export", False)]
        # textual's own footer keeps every replaced key alive through its `compact` watchers
        assert stale_key_watchers(keys.query_one(Footer)) == 0

    drive(app, body, size=(80, 24))


def test_footer_is_rebuilt_when_its_keys_change_and_only_then():
    app = Bare()

    async def body(pilot):
        keys = Keys()
        await app.push_screen(keys)
        await pilot.pause()
        first = list(keys.query(FooterKey))
        await visit_other(app, pilot)
        assert list(keys.query(FooterKey)) == first  # same keys: the same widgets, not rebuilt
        keys.can_export = False
        keys.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert shown(keys) == [("Stop", False), ("Export", True)]

    drive(app, body, size=(80, 24))
