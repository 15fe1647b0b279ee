"""Small renderables: a memory bar (VRAM, RAM) and a token-length histogram, as plain Rich text."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

BLOCKS = " ▁▂▃▄▅▆▇█"


def bar_text(used: float, total: float, width: int = 24, *, need: float | None = None) -> Text:
    """``████░░░░ 10.2 / 24.0 GB``: used memory (or a need) against a total; red beyond 90 %."""
    value = need if need is not None else used
    share = 0.0 if total <= 0 else max(0.0, min(value / total, 1.0))
    filled = round(share * width)
    style = "red" if total and value > total * 0.9 else "yellow" if share > 0.7 else "green"
    text = Text()
    text.append("█" * filled, style=style)
    text.append("░" * (width - filled), style="bright_black")
    text.append(f" {value:.1f} / {total:.1f} GB")
    return text


class MemoryBar(Static):
    """One labelled bar, e.g. a GPU's VRAM in use, or a method's estimate against what is available."""

    DEFAULT_CSS = "MemoryBar { height: 1; }"

    def __init__(self, label: str, used: float, total: float, *, need: float | None = None, **kwargs):
        self.label_text, self.used, self.total, self.need = label, used, total, need
        super().__init__(self._render_text(), **kwargs)

    def _render_text(self) -> Text:
        text = Text(f"{self.label_text:<10.10} ", style="bold")
        return text + bar_text(self.used, self.total, need=self.need)


def histogram_text(edges: list[int], counts: list[int], limit: int, height: int = 4) -> Text:
    """Vertical bars of token-length counts, three cells per bin; bins past ``limit`` are red (truncated)."""
    if not counts:
        return Text("no lengths measured", style="dim")
    top = max(counts) or 1
    lines = []
    for row in range(height, 0, -1):
        line = Text()
        for index, count in enumerate(counts):
            eighths = round(count / top * height * 8) - (row - 1) * 8
            char = BLOCKS[max(0, min(eighths, 8))]
            style = "red" if edges[index] >= limit else "cyan"
            line.append(char * 3, style=style)
        lines.append(line)
    axis = Text(f"{edges[0]}".ljust(3 * len(counts) - len(str(edges[-1]))) + f"{edges[-1]}", style="dim")
    return Text("\n").join([*lines, axis])
