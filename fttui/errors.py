"""One error family with an actionable hint, and the process exit codes.

Every layer raises these; only the CLI renders them (``render_error``), so users never see a traceback
for bad input.
"""
from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes of ``fttui`` (documented in the README)."""

    OK = 0
    USAGE = 2  # bad config, bad flags, missing model
    DATA = 3  # the dataset cannot be used as given
    TRAINING = 4  # training started but failed
    NETWORK = 5  # a hub could not be reached (the local files are intact)
    HANGUP = 129  # stopped because the terminal closed (SIGHUP)
    INTERRUPTED = 130  # stopped by SIGINT / Stop
    TERMINATED = 143  # stopped by SIGTERM (a scheduler, timeout, systemd)

    @classmethod
    def for_signal(cls, signum: int) -> "ExitCode":
        """The shell's convention, 128 + the signal's number, for the signals that stop a run gracefully."""
        import signal

        return {signal.SIGHUP: cls.HANGUP, signal.SIGTERM: cls.TERMINATED}.get(signum, cls.INTERRUPTED)


class FttuiError(Exception):
    """An error the user can fix: ``message`` says what is wrong and where, ``hint`` what to do."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict:
        return {
            "kind": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "exit_code": int(self.exit_code),
        }


class ConfigError(FttuiError):
    """A preset, an override, a flag or a model reference is wrong."""

    exit_code = ExitCode.USAGE


class DataError(FttuiError):
    """A dataset file is missing, malformed or does not fit the task."""

    exit_code = ExitCode.DATA


class TrainingError(FttuiError):
    """Training started and then failed (out of memory, NaN loss, a crashed worker)."""

    exit_code = ExitCode.TRAINING


class NetworkError(FttuiError):
    """A remote service (the Hugging Face Hub) could not be reached or refused the request."""

    exit_code = ExitCode.NETWORK


def reported(kind: str, message: str, hint: str | None, exit_code: int) -> FttuiError:
    """A worker's ``failed`` event as the error it was, raised again in the front end with the worker's exit code."""
    cls = next((c for c in (ConfigError, DataError, TrainingError, NetworkError) if c.__name__ == kind), FttuiError)
    error = cls(message, hint)
    error.exit_code = ExitCode(exit_code) if exit_code in ExitCode._value2member_map_ else exit_code
    return error


def render_error(error: FttuiError) -> str:
    """The one way an error is shown on a terminal: ``error: what`` then ``hint: what to do``."""
    text = f"error: {error.message}"
    if error.hint:
        text += f"\nhint: {error.hint}"
    return text
