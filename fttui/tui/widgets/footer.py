"""Textual's footer without the two costs it adds to every screen switch.

1. Textual 8's footer rebuilds all its keys whenever the screen's bindings are refreshed, which happens on
   every screen switch, even when the keys shown are the same. Rebuilding costs several milliseconds of
   style work per key on a busy CPU, so we rebuild only when what is shown changes.
2. Every rebuild leaves the old keys referenced from the footer's ``compact`` watchers (textual issue
   #6666: watchers are pruned only when the watched value changes). After a few hundred switches that was
   10,000s of dead widgets, and the garbage collector's full passes over them took 100-200 ms, the
   largest source of slow key presses while training. The stale watchers are dropped before each rebuild.
"""
from __future__ import annotations

from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

WATCHERS = "__watchers"  # where textual keeps watchers registered on a node (see textual.reactive._watch)


def shown_keys(screen) -> tuple:
    """What the footer would show for ``screen``: each shown binding's key, label, state and tooltip."""
    return tuple((binding.key, binding.description, enabled, tooltip)
                 for _node, binding, enabled, tooltip in screen.active_bindings.values() if binding.show)


def stale_key_watchers(footer) -> int:
    """How many ``compact`` watchers on ``footer`` belong to keys no longer mounted (0 when fixed)."""
    watchers = getattr(footer, WATCHERS, {}).get("compact", [])
    return sum(1 for node, _ in watchers if isinstance(node, FooterKey) and not node.is_attached)


class Footer(TextualFooter):
    """The footer every fttui screen shows: textual's, rebuilt only when its keys change, without leaking."""

    _shown: tuple | None = None

    def bindings_changed(self, screen) -> None:
        if self._bindings_ready and screen is self.screen and shown_keys(screen) == self._shown:
            return  # same keys as on screen now: nothing to rebuild
        super().bindings_changed(screen)

    def compose(self):
        watchers = getattr(self, WATCHERS, {}).get("compact")
        if watchers:  # the keys about to be replaced are unmounted: let them go
            watchers[:] = [(node, callback) for node, callback in watchers if not isinstance(node, FooterKey)]
        if self._bindings_ready:
            self._shown = shown_keys(self.screen)
        yield from super().compose()
