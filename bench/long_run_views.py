"""How long the wizard takes to show a run with many logged steps (issue 14, item 18).

    python bench/long_run_views.py [--steps 100000]

Writes a finished run whose events.jsonl holds ``--steps`` logged steps into a temporary runs folder, then,
in a headless app: the time until the Runs screen lists it, until its loss curve is drawn (read in a thread),
and until Enter has replayed the whole run onto the Train screen, summary included.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_long_run(runs: Path, steps: int) -> Path:
    from fttui.config import dump_config, load_config
    from fttui.events import Finished, Planned, Started, StepLogged

    folder = runs / "long-run"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(dump_config(load_config("quickstart")))
    summary = {"status": "completed", "global_step": steps, "train_loss": 0.1, "method": "lora"}
    events = [Planned(task="seq-cls", method="lora", model="builtin", data_format="classification", train_rows=480,
                      eval_rows=0, truncated_rows=0, trainable_params=1, total_params=2, max_steps=steps, epochs=1,
                      device="cpu", precision="fp32"),
              Started(run_dir=str(folder), max_steps=steps, epochs=1, trainable_params=1, total_params=2,
                      device="cpu", precision="fp32")]
    with open(folder / "events.jsonl", "w") as handle:
        for event in events:
            handle.write(event.to_json() + "\n")
        for step in range(1, steps + 1):
            handle.write(StepLogged(step=step, max_steps=steps, epoch=step / steps, loss=1 / step).to_json() + "\n")
        handle.write(Finished(status="completed", summary=summary, output_path=str(folder / "adapter")).to_json()
                     + "\n")
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


async def measure(runs: Path) -> dict[str, float]:
    from textual.widgets import DataTable

    from fttui.tui.app import FttuiApp
    from fttui.tui.screens.runs import RunsScreen
    from fttui.tui.screens.train import TrainScreen

    app = FttuiApp(runs_dir=runs, cursor_blink=False, start_step=None)
    found = {}
    async with app.run_test(size=(120, 40)) as pilot:
        start = time.perf_counter()
        app.action_runs()
        while not (isinstance(app.screen, RunsScreen) and app.screen.query(DataTable)
                   and app.screen.query_one(DataTable).row_count):
            await pilot.pause(0.005)
        found["Runs screen lists the run"] = time.perf_counter() - start
        while not app.screen.plotted:
            await pilot.pause(0.005)
        found["its loss curve is drawn"] = time.perf_counter() - start
        start = time.perf_counter()
        await pilot.press("enter")
        while not (isinstance(app.screen, TrainScreen) and app.screen.result is not None):
            await pilot.pause(0.005)
        found["Enter: the whole run replayed, summary shown"] = time.perf_counter() - start
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_long_run(Path(tmp) / "runs", args.steps)
        size = (folder / "events.jsonl").stat().st_size / 1e6
        print(f"a finished run with {args.steps:,} logged steps ({size:.1f} MB of events.jsonl)")
        for what, seconds in asyncio.run(measure(Path(tmp) / "runs")).items():
            print(f"  {what}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
