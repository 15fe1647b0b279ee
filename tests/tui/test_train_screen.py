"""The Train screen fed recorded events by fake supervisors: points, stop, quit, re-attach, failures."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fttui.events import Evaluated, Failed, Finished, Started, StepLogged
from fttui.runner.run_folder import RunFolder, RunInfo
from fttui.tui.screens.train import TrainScreen
from fttui.tui.widgets.loss_plot import LossPlot, smooth
from fttui.tui.widgets.modals import ChoiceModal, ConfirmModal

from .conftest import drive, RUN_NAME, recorded_events, wait_for, write_run
from .fakes import ReplaySupervisor


def test_every_point_reaches_the_plot_and_redraws_coalesce(make_app):
    events = recorded_events()
    app = make_app(None)
    screen = TrainScreen(Path("runs") / RUN_NAME, ReplaySupervisor(events))

    async def body(pilot):
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.result is not None, what="the end of the run")
        plot = screen.query_one(LossPlot)
        steps = [e.step for e in events if isinstance(e, StepLogged) and e.loss is not None]
        evals = [e.step for e in events if isinstance(e, Evaluated) and "loss" in e.metrics]
        assert plot.train_steps == steps
        assert plot.eval_steps == evals
        assert plot.redraws < len(steps)  # one redraw per timer tick, not per point
        assert isinstance(screen.result, Finished)
        assert "adapter" in str(screen.query_one("#summary").render())

    drive(app, body)


def test_smoothing_starts_at_the_first_value_and_follows():
    assert smooth([1.0]) == [1.0]
    values = smooth([1.0, 0.0, 0.0, 0.0])
    assert values[0] == 1.0 and values[-1] < values[1] < 1.0


def test_stop_asks_then_stops_gracefully(make_app):
    events = recorded_events()
    supervisor = ReplaySupervisor(events, hold=True)
    app = make_app(None)
    screen = TrainScreen(Path("runs") / RUN_NAME, supervisor)

    async def body(pilot):
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.last_step is not None and screen.last_step.step == 60)
        await pilot.press("s")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")  # changed my mind
        assert supervisor.stop_calls == 0
        await pilot.press("s")
        await pilot.press("enter")
        assert supervisor.stop_calls == 1  # graceful (SIGINT), not a kill
        await wait_for(pilot, lambda: screen.result is not None, what="the finished event")
        assert screen.status == "completed"

    drive(app, body)


def test_failure_is_shown_with_its_hint(make_app):
    events = recorded_events()[:6] + [Failed(kind="TrainingError", message="out of memory",
                                             hint="lower training.batch_size")]
    app = make_app(None)
    screen = TrainScreen(Path("runs") / RUN_NAME, ReplaySupervisor(events))

    async def body(pilot):
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.result is not None)
        summary = str(screen.query_one("#summary").render())
        assert "out of memory" in summary and "lower training.batch_size" in summary
        assert screen.status == "failed"

    drive(app, body)


def test_quit_while_running_asks_and_can_leave_it_running(make_app):
    app = make_app(5)
    seen = {}

    async def body(pilot):
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen))
        supervisor = seen["supervisor"] = app.screen.supervisor
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ChoiceModal)
        await pilot.press("escape")  # cancel: still here, still running
        assert isinstance(app.screen, TrainScreen) and supervisor.running
        await pilot.press("ctrl+q")
        await pilot.click("#choice-leave")

    drive(app, body)
    assert app.return_code in (0, None)  # the app has exited...
    assert seen["supervisor"].stop_calls == 0 and seen["supervisor"].running  # ...and the run was not stopped


def test_quit_can_stop_the_run(make_app):
    app = make_app(5)

    async def body(pilot):
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen))
        supervisor = app.screen.supervisor
        await pilot.press("ctrl+q")
        await pilot.click("#choice-stop")
        assert supervisor.stop_calls == 1

    drive(app, body)


def test_runs_screen_reattaches_to_a_live_run(make_app, workdir):
    events = recorded_events()
    cut = next(i for i, e in enumerate(events) if isinstance(e, StepLogged) and e.step >= 20)
    run = write_run(workdir / "runs", RUN_NAME, events[:cut])
    info = RunFolder(run).read()
    assert info.status == "interrupted"  # no worker process behind it
    from fttui.runner.lock import claim

    lock = claim(run, "train")  # this process stands in for the worker: it holds the run's claim
    lock.set_worker(os.getpid())
    live = RunInfo(path=run, status="running", pid=os.getpid())
    app = make_app(None)

    async def body(pilot):
        app.open_run(live)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TrainScreen) and screen.attached
        plot = screen.query_one(LossPlot)
        so_far = [e.step for e in events[:cut] if isinstance(e, StepLogged)]
        await wait_for(pilot, lambda: plot.train_steps == so_far, what="the events so far")
        with open(run / "events.jsonl", "a") as handle:  # the worker keeps writing
            handle.write("".join(e.to_json() + "\n" for e in events[cut:]))
        await wait_for(pilot, lambda: screen.result is not None, what="the tailed finish")
        assert plot.train_steps[-1] == 60
        assert screen.status == "completed"

    drive(app, body)
    lock.release()


def test_tui_never_loads_torch_or_the_engine():
    code = ("import sys, fttui.tui.app, fttui.tui.screens.export, fttui.tui.screens.runs;"
            "bad = [m for m in ('torch', 'transformers', 'peft', 'datasets', 'fttui.engine') if m in sys.modules];"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_overfitting_warning_stands_out_and_the_summary_reads_before_after(make_app):
    from textual.widgets import RichLog

    from fttui.events import Logged

    events = recorded_events()
    last_eval = max(i for i, e in enumerate(events) if isinstance(e, Evaluated) and not e.baseline)
    message = ("overfitting: eval loss rose 3 evaluations in a row (0.6500 -> 0.6700) while train loss fell "
               "(0.6900 -> 0.6400); consider fewer epochs, more data, or training.early_stopping_patience")
    events.insert(last_eval + 1, Logged(message, "warning", topic="overfitting"))
    app = make_app(None)
    notes = []
    app.notify = lambda text, **kwargs: notes.append((text, kwargs.get("severity")))
    screen = TrainScreen(Path("runs") / RUN_NAME, ReplaySupervisor(events))

    async def body(pilot):
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.result is not None, what="the end of the run")
        line = screen.query_one("#warning")
        assert line.has_class("visible") and "eval loss rose 3 evaluations" in str(line.render())
        assert notes == [(message, "warning")]
        summary = str(screen.query_one("#summary").render())
        assert "base → fine-tuned" in summary
        assert "accuracy 0.4167 → 0.7917" in summary and "loss 0.6961 → 0.6586" in summary
        log = "\n".join(strip.text for strip in screen.query_one(RichLog).lines)
        assert "base model, before training: accuracy 0.4167" in log

    drive(app, body)


def test_a_finished_run_shows_its_last_step_not_its_last_logged_one(make_app, workdir):
    """Steps after the last logged one (logging every N steps) still count: 60/60 and a full bar, not 58/60."""
    from textual.widgets import ProgressBar

    from fttui.runner.run_folder import list_runs

    events = [e for e in recorded_events() if not (isinstance(e, StepLogged) and e.step == 60)]
    finished = next(e for e in events if isinstance(e, Finished))
    write_run(workdir / "runs", "logged-58", events, finished.summary)
    (listed,) = list_runs(workdir / "runs")
    assert (listed.step, listed.max_steps) == (60, 60)
    app = make_app(None)
    screen = TrainScreen(Path("runs") / "logged-58", ReplaySupervisor(events))

    async def body(pilot):
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.result is not None, what="the end of the run")
        await pilot.pause()
        assert "step 60/60" in str(screen.query_one("#progress-text").render())
        assert screen.query_one(ProgressBar).percentage == 1.0

    drive(app, body)


def test_a_long_run_read_back_arrives_in_batches(make_app, workdir):
    """20k logged steps reach the screen in a handful of messages, not one each (100k took 51 s one by one)."""
    from fttui.runner.supervisor import TailSupervisor

    base = recorded_events()
    finished = next(e for e in base if isinstance(e, Finished))
    started = next(e for e in base if isinstance(e, Started))
    steps = [StepLogged(step=i, max_steps=20000, epoch=i / 1000, loss=1 / i) for i in range(1, 20001)]
    events = [started, *steps, finished]
    run = write_run(workdir / "runs", "long", events, finished.summary)
    app = make_app(None)
    screen = TrainScreen(run, TailSupervisor(run))
    batches = []
    post = screen.post_message

    def counting(message):
        if isinstance(message, TrainScreen.EventsArrived):
            batches.append(len(message.events))
        return post(message)

    screen.post_message = counting

    async def body(pilot):
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.result is not None, what="the end of the run")
        assert screen.query_one(LossPlot).train_steps == list(range(1, 20001))  # no point dropped

    drive(app, body)
    assert sum(batches) == len(events) and len(batches) <= 10


def test_plot_ticks_are_whole_steps_at_a_round_spacing():
    from fttui.tui.widgets.loss_plot import step_ticks

    assert step_ticks(3) == [0, 1, 2, 3]
    assert step_ticks(133) == [0, 50, 100]
    assert step_ticks(60) == [0, 20, 40, 60]
    assert step_ticks(100_000) == [0, 20_000, 40_000, 60_000, 80_000, 100_000]
    for last in (1, 7, 58, 999, 1234):
        ticks = step_ticks(last)
        assert ticks[0] == 0 and ticks[-1] <= last and all(isinstance(t, int) for t in ticks) and len(ticks) <= 11
