"""The preference plot: reward margin and preference accuracy of a DPO, ORPO or KTO run, at each logged training
step (TRL's batch figures: lines) and at each evaluation (markers).

The loss of a preference objective says little on its own (DPO's starts at log 2 whatever the data); the
margin between the chosen and the rejected reply, and the share of pairs where it favours the chosen one, say
whether the model is learning the preference. The plot stays hidden until an evaluation reports a margin, so
SFT and classification runs never show it.
"""
from __future__ import annotations

import math

from fttui.tui.widgets.loss_plot import CoalescedPlot

MARGIN = "rewards/margins"  # DPO, ORPO and KTO report it
ACCURACY = "rewards/accuracies"  # DPO and ORPO (KTO's replies are unpaired: nothing to be accurate about)


def _number(metrics: dict, name: str) -> float | None:
    value = metrics.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


class PreferencePlot(CoalescedPlot):
    """Reward margin (left axis) and accuracy (right axis, 0 to 1) against the optimizer step."""

    DEFAULT_CSS = """
    PreferencePlot {
        display: none;
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self, *, title: str = "preference", **kwargs):
        super().__init__(title=title, **kwargs)
        # name -> (steps, values): at logged training steps (drawn as lines), at evaluations (drawn as markers)
        self.train = {MARGIN: ([], []), ACCURACY: ([], [])}
        self.evals = {MARGIN: ([], []), ACCURACY: ([], [])}

    @property
    def points(self) -> int:
        return sum(len(values) for _, values in self.evals.values())

    def add_train(self, step: int, rewards: dict) -> None:
        """Record a training step's margin and accuracy (``StepLogged.rewards``); the first one shows the plot, so a run
        without eval data has it too."""
        self._add(self.train, step, rewards)

    def add_eval(self, step: int, metrics: dict) -> None:
        """Record an evaluation's margin and accuracy (each only when reported); the first one shows the plot."""
        self._add(self.evals, step, metrics)

    def _add(self, series: dict, step: int, metrics: dict) -> None:
        for name, (steps, values) in series.items():
            value = _number(metrics, name)
            if value is not None:
                steps.append(step)
                values.append(value)
                self.dirty = True
                self.display = True

    def draw(self, plt) -> None:
        has_accuracy = bool(self.train[ACCURACY][0] or self.evals[ACCURACY][0])
        plt.title("margin (green), accuracy (blue)" if has_accuracy else "reward margin (green)")  # fits 40 columns
        plt.xlabel("step")
        for name, color, marker, side in ((MARGIN, "green", "x", "left"), (ACCURACY, "blue", "o", "right")):
            train, evals = self.train[name], self.evals[name]
            line = train if train[0] else evals  # training steps as the line, evaluations as markers on it
            if line[0]:
                plt.plot(*line, color=color, marker="braille", yside=side)
            if evals[0]:
                plt.scatter(*evals, color=color, marker=marker, yside=side)
        if has_accuracy:
            plt.ylim(0, 1, yside="right")
            plt.yticks([0, 0.5, 1], yside="right")
        self.step_axis(plt, [step for series in (self.train, self.evals) for steps, _ in series.values() for step in steps])
