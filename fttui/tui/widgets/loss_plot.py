"""The live loss plot: every train and eval point kept, redraws coalesced to a few per second.

Points arrive one message per logged step; redrawing plotext for each would cost more than training
logs at high rates, so ``add_*`` only records and marks the plot dirty, and a timer redraws.
"""
from __future__ import annotations

import math

from textual_plotext import PlotextPlot

SMOOTHING = 0.6  # TensorBoard-style exponential moving average weight
REDRAW_S = 0.5
TITLE_MARGIN = 4  # plotext draws a title only when it is at most the plot's width less 4


def smooth(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """Debiased exponential moving average, so the curve starts at the first value."""
    result, average = [], 0.0
    for index, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        result.append(average / (1 - weight**index))
    return result


def step_ticks(last: int, count: int = 5) -> list[int]:
    """About ``count`` whole-number ticks from 0 to ``last`` at a round spacing (1, 2, 5, 10, 20, 50, ...)."""
    raw = max(last / count, 1)
    magnitude = 10 ** (len(str(int(raw))) - 1)
    spacing = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, int(last) + 1, int(spacing)))


def envelope(xs: list, ys: list, buckets: int) -> tuple[list, list]:
    """At most two points per bucket, the lowest and the highest, in step order.

    The plot is only so many cells wide; drawing thousands of points costs a redraw of 100+ ms. The data
    keeps every point; what is drawn keeps every spike, because each bucket keeps its extremes.
    """
    if len(xs) <= 2 * buckets:
        return xs, ys
    size = len(xs) / buckets
    out_x, out_y = [], []
    for b in range(buckets):
        lo, hi = int(b * size), max(int((b + 1) * size), int(b * size) + 1)
        chunk = range(lo, min(hi, len(xs)))
        low = min(chunk, key=ys.__getitem__)
        high = max(chunk, key=ys.__getitem__)
        for index in sorted({low, high}):
            out_x.append(xs[index])
            out_y.append(ys[index])
    return out_x, out_y


class CoalescedPlot(PlotextPlot):
    """A plot whose ``add_*`` only record points and mark it dirty; a timer redraws (``draw``) at most twice a second."""

    def __init__(self, *, title: str, **kwargs):
        super().__init__(**kwargs)
        self.title = title
        self.max_steps: int | None = None
        self.dirty = True
        self.redraws = 0
        self._cache_key = None
        self._cache = None
        self._drawn_size = None

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(REDRAW_S, self.flush)
        self.flush()

    def draw(self, plt) -> None:
        raise NotImplementedError

    def step_axis(self, plt, steps: list[int]) -> None:
        """Steps from 0 to the planned last one (or the last seen), at whole-number ticks."""
        last = self.max_steps or max(steps, default=0)
        if last:  # steps are whole numbers: no 2.5 on the axis after a stop, when max_steps is not known
            plt.xlim(0, last)
            plt.xticks(step_ticks(last))

    def flush(self) -> None:
        """Redraw if points arrived since the last redraw (called by the timer, or directly)."""
        if not self.dirty:
            return
        self.dirty = False
        self.redraws += 1
        self._drawn_size = self.size
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        self.draw(plt)
        self.refresh()

    def on_resize(self, event) -> None:
        if event.size != self._drawn_size:  # screens send Resize on every visit, mostly with the same size
            self.dirty = True  # the envelope depends on the width

    def render(self):
        """Build the plot only when its data, size or theme changed (plotext builds are not cheap)."""
        key = (self.redraws, self.size, self.app.theme)
        if key != self._cache_key:
            self._cache, self._cache_key = super().render(), key
        return self._cache


class LossPlot(CoalescedPlot):
    """Train loss (raw and smoothed) and eval loss against the optimizer step."""

    def __init__(self, *, title: str = "loss", **kwargs):
        super().__init__(title=title, **kwargs)
        self.train_steps: list[int] = []
        self.train_loss: list[float] = []
        self.eval_steps: list[int] = []
        self.eval_loss: list[float] = []

    @property
    def points(self) -> int:
        return len(self.train_loss) + len(self.eval_loss)

    def add_train(self, step: int, loss: float | None) -> None:
        if loss is None or not math.isfinite(loss):
            return
        self.train_steps.append(step)
        self.train_loss.append(loss)
        self.dirty = True

    def add_eval(self, step: int, loss: float | None) -> None:
        if loss is None or not math.isfinite(loss):
            return
        self.eval_steps.append(step)
        self.eval_loss.append(loss)
        self.dirty = True

    def clear(self) -> None:
        self.train_steps.clear(), self.train_loss.clear(), self.eval_steps.clear(), self.eval_loss.clear()
        self.dirty = True

    def legend(self) -> str:
        """The longest title that fits: plotext leaves out a title wider than the plot (beside a second plot)."""
        for legend in ("train (grey dots), smoothed (cyan), eval (orange, x)", "train (grey), smoothed (cyan), eval (x)",
                       "train, smoothed, eval (x)"):
            if len(self.title) + 2 + len(legend) <= self.size.width - TITLE_MARGIN:
                break
        return f"{self.title}: {legend}"

    def draw(self, plt) -> None:
        plt.title(self.legend())  # a legend box would hide points
        plt.xlabel("step")
        buckets = max(self.size.width, 40)
        if self.train_loss:
            if len(self.train_loss) > 2:
                plt.plot(*envelope(self.train_steps, self.train_loss, buckets), color="gray", marker="dot")
                plt.plot(*envelope(self.train_steps, smooth(self.train_loss), buckets), color="cyan",
                         marker="braille")
            else:
                plt.scatter(self.train_steps, self.train_loss, color="cyan")
        if self.eval_loss:
            plt.plot(self.eval_steps, self.eval_loss, color="orange", marker="braille")
            plt.scatter(self.eval_steps, self.eval_loss, color="orange", marker="x")
        self.step_axis(plt, [*self.train_steps, *self.eval_steps])
        if not self.points:
            plt.title(f"{self.title}: waiting for the first logged step")
