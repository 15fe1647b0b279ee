"""The Export & try screen, on the real services, refuses a folder holding the user's files: it says which and what to
do, starts no worker, deletes nothing, and stays usable."""
from __future__ import annotations

from textual.widgets import Button, Input

from fttui.tui.app import FttuiApp
from fttui.tui.screens.export import ExportScreen

from .conftest import RUN_NAME, drive, write_run


def test_the_export_screen_shows_the_refusal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = write_run(tmp_path / "runs", RUN_NAME, [])
    out = tmp_path / "exports" / "mine"
    out.mkdir(parents=True)
    (out / "NOTES.md").write_text("my notes")
    app = FttuiApp(runs_dir=tmp_path / "runs", start_step=None, cursor_blink=False)

    async def body(pilot):
        screen = ExportScreen(run_dir)
        app.push_screen(screen)
        await pilot.pause()
        screen.query_one("#adapter-dest", Input).value = str(out)
        screen.query_one("#adapter", Button).press()
        await pilot.pause()
        shown = str(screen.query_one("#adapter-result").render())
        assert "holds files fttui did not write: NOTES.md" in shown, shown
        assert "hint: choose another folder" in shown
        assert not screen.query_one("#adapter-result").running
        assert not screen.query_one("#adapter", Button).disabled  # another folder can be tried at once

    drive(app, body)
    assert (out / "NOTES.md").read_text() == "my notes"
    assert not (run_dir / "export.log").exists()  # no worker was started
