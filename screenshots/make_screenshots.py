"""Write an SVG of every screen by driving the real app with Pilot: real hardware, model, preview and training.

    python screenshots/make_screenshots.py [--size 120x40] [--out screenshots]

It works in a temporary folder (a copy of the bundled data, a fresh runs/), walks the wizard by keyboard
on the built-in model, trains for 60 steps, asks the result to "try it", and saves each screen with
``app.save_screenshot``.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


async def wait_for(pilot, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        await pilot.pause(0.05)


async def shoot(pilot, out: Path, name: str) -> None:
    from fttui.tui.widgets.loss_plot import LossPlot

    await pilot.pause()
    for plot in pilot.app.screen.query(LossPlot):
        plot.flush()
    await pilot.pause()
    pilot.app.save_screenshot(f"{name}.svg", str(out))
    print(f"wrote {out / (name + '.svg')}")


async def type_into(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector).focus()
    await pilot.press("ctrl+a", "ctrl+k", *text)


async def drive(out: Path, size: tuple[int, int]) -> None:
    from fttui.tui.app import FttuiApp
    from fttui.tui.draft import Draft
    from fttui.tui.screens.runs import RunsScreen

    draft = Draft.quickstart("runs")
    draft.sections["data"].update(train="data/train.jsonl", eval="data/eval.jsonl")
    app = FttuiApp(runs_dir="runs", draft=draft, cursor_blink=False)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.draft.hardware is not None)
        await shoot(pilot, out, "1-hardware")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.draft.shape is not None)
        await shoot(pilot, out, "2-model")
        await pilot.press("ctrl+n")
        await pilot.pause()
        while app.screen.chosen() != "lora":
            await pilot.press("down")
        await shoot(pilot, out, "3-method")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.draft.preview is not None)
        await shoot(pilot, out, "4-dataset")
        await pilot.press("ctrl+n")
        await type_into(pilot, "#training-max_steps", "60")
        await type_into(pilot, "#training-logging_steps", "1")
        await type_into(pilot, "#training-eval_steps", "20")
        await type_into(pilot, "#training-learning_rate", "0.001")
        await shoot(pilot, out, "5-hyperparameters")
        await pilot.press("ctrl+n")
        await shoot(pilot, out, "6-review")
        await pilot.press("ctrl+n")
        screen = app.screen
        from fttui.tui.widgets.loss_plot import LossPlot

        plot = screen.query_one(LossPlot)
        await wait_for(pilot, lambda: plot.points >= 25 or screen.result is not None)
        await shoot(pilot, out, "7-train")
        await wait_for(pilot, lambda: screen.result is not None)
        await shoot(pilot, out, "7-train-finished")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: getattr(app.screen, "runs", None))
        await shoot(pilot, out, "8-runs")
        await pilot.press("e")
        await pilot.pause()
        await shoot(pilot, out, "9-export")
        export = app.screen
        export.query_one("#try-input").focus()
        for sentence in ("a wonderful, moving film with a great cast", "dull, far too long and badly acted"):
            count = len(export.answers)
            await pilot.press(*sentence, "enter")
            await wait_for(pilot, lambda count=count: len(export.answers) > count)
        export.query_one("#try-answers").scroll_visible(animate=False)
        await shoot(pilot, out, "10-try")
        await pilot.press("escape")  # closing the screen ends the try worker
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("c")
        await pilot.pause()
        app.screen.query_one("#epochs-input").value = "1"
        await pilot.press("enter")  # too few: the dialog says why, under the field
        await shoot(pilot, out, "8-runs-continue")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="120x40", help="terminal size, columns x rows (default 120x40)")
    parser.add_argument("--out", default=str(REPO / "screenshots"), help="folder for the SVGs")
    args = parser.parse_args()
    columns, rows = (int(n) for n in args.size.lower().split("x"))
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fttui-shots-") as work:
        shutil.copytree(REPO / "presets" / "data" / "sentiment", Path(work) / "data")
        os.chdir(work)
        asyncio.run(drive(out, (columns, rows)))


if __name__ == "__main__":
    main()
