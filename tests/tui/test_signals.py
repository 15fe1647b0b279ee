"""The wizard on SIGTERM (stop live runs gracefully, exit 143) and SIGHUP (leave them running, exit 129)."""
from __future__ import annotations

import os
import signal

import pytest

from .conftest import drive, recorded_events, wait_for
from .fakes import ReplaySupervisor


class Live(ReplaySupervisor):
    """A run that keeps going until stopped, counting stop requests."""

    def __init__(self):
        super().__init__(recorded_events()[:3], hold=True)
        self.stops = 0

    def request_stop(self) -> bool:
        self.stops += 1
        return super().request_stop()


@pytest.mark.parametrize("sig,code,stopped", [(signal.SIGTERM, 143, 1), (signal.SIGHUP, 129, 0)])
def test_a_signal_ends_the_wizard_cleanly(make_app, sig, code, stopped):
    app = make_app()
    live = Live()

    async def body(pilot):
        app.live.append(live)
        os.kill(os.getpid(), sig)  # reaches the app's own handler on its event loop
        await wait_for(pilot, lambda: app.return_code is not None, what="the app to exit")

    drive(app, body)
    assert app.return_code == code
    assert live.stops == stopped  # SIGTERM: the worker saves a checkpoint and stops; SIGHUP: it trains on
    assert signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler)  # handlers are gone again
