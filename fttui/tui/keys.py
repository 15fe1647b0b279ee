"""Keys a browser keeps for itself, and the ones that stand in for them under ``fttui --web``.

Chrome and Firefox never hand ctrl+n, ctrl+r, ctrl+s, ctrl+q, ctrl+o, ctrl+p or F5 to a page (new window,
reload, save page, quit, open file, print), so those actions also answer to alt+letter, which a terminal
sends as ESC+letter and browsers leave alone. Both keys work everywhere; the footer shows the one that
works where the app is running.
"""
from __future__ import annotations

BROWSER_TAKES = {"ctrl+n": "alt+n", "ctrl+r": "alt+r", "ctrl+s": "alt+s", "ctrl+q": "alt+q", "ctrl+o": "alt+o",
                 "f5": "alt+p", "ctrl+p": "alt+c"}


def either(key: str) -> str:
    """A binding's key list: ``key`` and, when a browser takes it, its stand-in (``"ctrl+n,alt+n"``)."""
    return f"{key},{BROWSER_TAKES[key]}" if key in BROWSER_TAKES else key


def shown_key(key: str, web: bool) -> str:
    """The key to show for a binding of ``key``: its stand-in when served to a browser."""
    return BROWSER_TAKES.get(key, key) if web else key
