"""The Runs screen's Align (a): the wizard again at the Dataset step, starting from a finished causal-LM run's
model with DPO; classification runs and unfinished runs are refused with a notice."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fttui.events import Finished
from fttui.tui.screens.dataset import DatasetScreen
from fttui.tui.screens.runs import RunsScreen

from .conftest import RUN_NAME, drive, recorded_events, wait_for, write_run

CHAT, HALF = "chat-20260101-130000", "chat-20260101-140000"


def _runs(workdir) -> Path:
    """A finished classification run (recorded), a finished causal-LM one, and one whose worker died mid-run."""
    events = recorded_events()
    summary = next(e for e in events if isinstance(e, Finished)).summary
    write_run(workdir / "runs", RUN_NAME, events, summary)
    causal = {**summary, "task": "causal-lm"}
    chat = write_run(workdir / "runs", CHAT, [replace(e, summary=causal) if isinstance(e, Finished) else e
                                              for e in events], causal)
    write_run(workdir / "runs", HALF, events[:20])
    return chat


def test_align_opens_the_wizard_from_a_finished_language_model_run(make_app, workdir):
    chat = _runs(workdir)
    app = make_app(None)
    notes: list[str] = []
    app.notify = lambda message, **kwargs: notes.append(message)

    async def body(pilot):
        screen = RunsScreen(Path("runs"))
        app.push_screen(screen)
        await wait_for(pilot, lambda: len(screen.runs) == 3, what="the run list")

        async def select(name):
            await pilot.press("home")
            while screen.current().name != name:
                await pilot.press("down")

        await select(RUN_NAME)
        await pilot.press("a")
        assert app.screen is screen and "this run trained a classifier" in notes[-1]
        await select(HALF)
        await pilot.press("a")
        assert app.screen is screen and "align is for finished runs" in notes[-1]
        await select(CHAT)
        assert "a: align" in str(screen.query_one("#run-detail").render())
        method = app.draft.get("method", "name")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, DatasetScreen), what="the Dataset step")
        draft = app.draft
        assert draft.get("model", "name") == str(chat.resolve()) and draft.get("model", "task") == "causal-lm"
        assert draft.get("training", "objective") == "dpo" and draft.get("method", "name") == method
        assert draft.get("data", "train") == "" and draft.get("output", "dir") is None  # the user gives the pairs
        assert draft.shape is not None and draft.hardware is not None  # planned as after the Model step
        draft.update("data", {"train": "pairs.jsonl"})
        assert draft.config().model.name == str(chat.resolve())

    drive(app, body)
