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
        self.margin_steps: list[int] = []
        self.margins: list[float] = []
        self.accuracy_steps: list[int] = []
        self.accuracies: list[float] = []
        self.train = {MARGIN: ([], []), ACCURACY: ([], [])}  # name -> (steps, values) at logged training steps

    @property
    def points(self) -> int:
        return len(self.margins) + len(self.accuracies)

    def add_train(self, step: int, rewards: dict) -> None:
        """Record a training step's margin and accuracy (``StepLogged.rewards``); the first one shows the plot, so a run
        without eval data has it too."""
        for name, (steps, values) in self.train.items():
            value = _number(rewards, name)
            if value is not None:
                steps.append(step)
                values.append(value)
                self.dirty = True
                self.display = True

    def add_eval(self, step: int, metrics: dict) -> None:
        """Record an evaluation's margin and accuracy (each only when reported); the first one shows the plot."""
        margin, accuracy = _number(metrics, MARGIN), _number(metrics, ACCURACY)
        if margin is not None:
            self.margin_steps.append(step)
            self.margins.append(margin)
        if accuracy is not None:
            self.accuracy_steps.append(step)
            self.accuracies.append(accuracy)
        if margin is not None or accuracy is not None:
            self.dirty = True
            self.display = True

    def draw(self, plt) -> None:
        if self.accuracies or self.train[ACCURACY][0]:
            plt.title("margin (green), accuracy (blue)")  # fits 40 columns
        else:
            plt.title("reward margin (green)")
        plt.xlabel("step")
        train_margin, train_accuracy = self.train[MARGIN], self.train[ACCURACY]
        if train_margin[0]:  # training steps as the line, evaluations as markers on it
            plt.plot(*train_margin, color="green", marker="braille")
        elif self.margins:
            plt.plot(self.margin_steps, self.margins, color="green", marker="braille")
        if self.margins:
            plt.scatter(self.margin_steps, self.margins, color="green", marker="x")
        if train_accuracy[0]:
            plt.plot(*train_accuracy, color="blue", marker="braille", yside="right")
        elif self.accuracies:
            plt.plot(self.accuracy_steps, self.accuracies, color="blue", marker="braille", yside="right")
        if self.accuracies:
            plt.scatter(self.accuracy_steps, self.accuracies, color="blue", marker="o", yside="right")
        if self.accuracies or train_accuracy[0]:
            plt.ylim(0, 1, yside="right")
            plt.yticks([0, 0.5, 1], yside="right")
        self.step_axis(plt, [*self.margin_steps, *self.accuracy_steps, *train_margin[0], *train_accuracy[0]])
