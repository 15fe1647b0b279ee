"""One path for a worker's exception: its screen puts back what said it was busy, the app shows the error dialog.

Textual posts ``Worker.StateChanged`` to the screen or widget that started the worker and does not bubble it, so a
handler on the app alone would never see a screen's worker fail: every node that runs workers mixes this in, and
it hands the failure to the app's one handler (``FttuiApp.show_worker_error``).
"""
from __future__ import annotations

from textual.worker import Worker, WorkerState

from fttui.errors import FttuiError

REPORT_HINT = "this is a bug in fttui, not in your input: please report it with this message and what you were doing"


def failure_text(error: BaseException | None) -> tuple[str, str]:
    """The message and hint to show: an FttuiError's own; for anything else its type and text, and a plea to report."""
    if isinstance(error, FttuiError):
        return error.message, error.hint or ""
    return f"{type(error).__name__}: {error}", REPORT_HINT


class ReportsWorkerErrors:
    """Mixed into screens and widgets with ``@work`` methods (and the app) so no worker fails silently."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        self.after_worker_error(event.worker)
        self.app.show_worker_error(event.worker)

    def after_worker_error(self, worker: Worker) -> None:
        """Undo what announced the work (a "reading…" line, a disabled button); by default there is none."""
