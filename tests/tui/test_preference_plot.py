"""The Train screen's preference plot: a DPO or KTO run's reward margin and accuracy at each evaluation and at each
logged training step."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from fttui.events import Evaluated, Finished, Started, StepLogged
from fttui.tui.screens.train import TrainScreen
from fttui.tui.widgets.loss_plot import LossPlot
from fttui.tui.widgets.preference_plot import PreferencePlot

from .conftest import (
    RUN_NAME,
    drive,
    recorded_events,
    recorded_preference_events,
    wait_for,
)
from .fakes import ReplaySupervisor


def _evaluated(events, metric: str) -> tuple[list[int], list[float]]:
    evals = [e for e in events if isinstance(e, Evaluated) and metric in e.metrics]
    return [e.step for e in evals], [e.metrics[metric] for e in evals]


def _run(make_app, events, check, history=None, size=(100, 32)):
    app = make_app(None)
    screen = TrainScreen(Path("runs") / RUN_NAME, ReplaySupervisor(events), history=history)

    async def body(pilot):
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.result is not None, what="the end of the run")
        await pilot.pause()
        check(screen)

    drive(app, body, size=size)


def _drawn(plot: PreferencePlot) -> str:
    plot.flush()
    return plot.render().plain


def test_a_dpo_run_plots_every_evaluations_margin_and_accuracy(make_app):
    events = recorded_preference_events("dpo")
    steps, margins = _evaluated(events, "rewards/margins")
    accuracy_steps, accuracies = _evaluated(events, "rewards/accuracies")
    assert len(set(margins)) > 3 and len(set(accuracies)) > 2  # the recording climbs: a constant would not tell

    def check(screen):
        plot = screen.query_one(PreferencePlot)
        assert plot.display and plot.region.width > 0
        assert plot.evals["rewards/margins"] == (steps, margins)
        assert plot.evals["rewards/accuracies"] == (accuracy_steps, accuracies)
        assert "accuracy (blue)" in _drawn(plot)
        loss = screen.query_one(LossPlot)  # the loss plot stays, beside it
        assert loss.eval_steps == steps and loss.region.width > 0
        assert loss.region.y == plot.region.y and loss.region.right <= plot.region.x
        assert plot.max_steps == loss.max_steps == 30  # both axes end at the run's last step

    _run(make_app, events, check)


def test_a_kto_run_plots_its_margin_and_no_accuracy(make_app):
    events = recorded_preference_events("kto")
    assert not any("rewards/accuracies" in e.metrics for e in events if isinstance(e, Evaluated))
    steps, margins = _evaluated(events, "rewards/margins")

    def check(screen):
        plot = screen.query_one(PreferencePlot)
        assert plot.display
        assert plot.evals["rewards/margins"] == (steps, margins) and len(steps) == 7
        assert plot.evals["rewards/accuracies"] == ([], [])
        drawn = _drawn(plot)
        assert "reward margin" in drawn and "accuracy" not in drawn

    _run(make_app, events, check)


def test_a_classification_run_shows_no_preference_plot_and_keeps_the_whole_width_for_its_loss(make_app):
    def check(screen):
        plot = screen.query_one(PreferencePlot)
        assert not plot.display and plot.points == 0
        assert screen.query_one(LossPlot).region.width == 100

    _run(make_app, recorded_events(), check)


def test_a_resumed_run_puts_its_earlier_margins_back_once(make_app):
    events = recorded_preference_events("dpo")
    started = next(i for i, e in enumerate(events) if isinstance(e, Started))
    # The run stopped after its evaluation at step 20 but its last checkpoint was at step 15: the resumed worker
    # trains from step 15 and evaluates at 20 again, so the first step-20 point must not come back from history.
    history = events[: next(i for i, e in enumerate(events) if isinstance(e, Evaluated) and e.step == 20) + 1]
    resumed = [Started(**{**vars(events[started]), "resumed_from_step": 15})]
    resumed += [e for e in events[started + 1:] if getattr(e, "step", 99) > 15 or isinstance(e, Finished)]
    steps, margins = _evaluated(events, "rewards/margins")

    def check(screen):
        plot = screen.query_one(PreferencePlot)
        assert plot.evals["rewards/margins"] == (steps, margins)
        assert plot.evals["rewards/accuracies"][0] == steps

    _run(make_app, resumed, check, history=history)


def test_an_evaluation_without_a_finite_margin_records_nothing_and_keeps_the_plot_hidden(make_app):
    events = recorded_events()
    finished = next(i for i, e in enumerate(events) if isinstance(e, Finished))
    events.insert(finished, Evaluated(step=60, epoch=2.0, metrics={"loss": 0.4, "rewards/margins": math.nan}))

    def check(screen):
        plot = screen.query_one(PreferencePlot)
        assert plot.points == 0 and not plot.display
        plot.add_eval(61, {"rewards/margins": 0.25, "rewards/accuracies": 0.75})  # the first real one shows it
        assert plot.evals == {"rewards/margins": ([61], [0.25]), "rewards/accuracies": ([61], [0.75])} and plot.display

    _run(make_app, events, check)


def test_training_steps_put_their_margin_and_accuracy_on_the_plot_as_the_line(make_app):
    events = recorded_preference_events("dpo")
    with_rewards = [dataclasses.replace(e, rewards={"rewards/margins": 0.01 * e.step, "rewards/accuracies": 0.5,
                                                    "rewards/chosen": 9.0})
                    if isinstance(e, StepLogged) else e for e in events]
    steps = [e.step for e in events if isinstance(e, StepLogged)]
    eval_steps, margins = _evaluated(events, "rewards/margins")
    assert len(steps) > len(eval_steps) > 3

    def check(screen):
        plot = screen.query_one(PreferencePlot)
        assert plot.train["rewards/margins"] == (steps, [0.01 * step for step in steps])
        assert plot.train["rewards/accuracies"] == (steps, [0.5] * len(steps))
        assert plot.evals["rewards/margins"] == (eval_steps, margins)  # evaluations stay apart, as markers
        assert "accuracy (blue)" in _drawn(plot)

    _run(make_app, with_rewards, check)
