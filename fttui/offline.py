"""Is the Hugging Face hub reachable? Asked once per process, answered within ~2 s, then remembered.

Without this every hub lookup waits on its own timeouts and retries (about 30 s each, one after the other);
with it the first lookup decides for all: offline, planning uses the cache and the bundled configs, and the
workers we start get ``HF_HUB_OFFLINE=1`` so transformers does not retry either. No torch, no hub client.
"""
from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse

CONNECT_TIMEOUT_S = 2.0
TRUE = ("1", "true", "yes", "on")
_verdict: dict[str, str | None] = {}  # "reason": None when reachable, else why not; empty until asked
_lock = threading.Lock()


def _endpoint() -> tuple[str, int, str]:
    """(host, port, label) to probe: the HTTPS proxy when one is set, else HF_ENDPOINT (default huggingface.co)."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    url = urlparse(proxy or os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.hostname or "huggingface.co", port, ("proxy " if proxy else "") + f"{url.hostname}:{port}"


def _probe(timeout: float) -> str | None:
    """None when a TCP connection opens within ``timeout`` (DNS included), else the reason."""
    host, port, label = _endpoint()
    outcome: list[str | None] = []

    def connect():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(f"no connection to {label} ({error.strerror or type(error).__name__})")

    worker = threading.Thread(target=connect, daemon=True)  # getaddrinfo ignores socket timeouts
    worker.start()
    worker.join(timeout + 0.2)
    return outcome[0] if outcome else f"no connection to {label} within {timeout:g} s"


def hub_offline() -> str | None:
    """Why the hub cannot be reached (``HF_HUB_OFFLINE=1``, or the probe's failure), or None when it can."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in TRUE:
        return "HF_HUB_OFFLINE=1"
    with _lock:
        if "reason" not in _verdict:
            _verdict["reason"] = _probe(CONNECT_TIMEOUT_S)
        return _verdict["reason"]


def mark_offline(reason: str) -> None:
    """A real request failed on the network: trust that over an earlier successful probe."""
    with _lock:
        _verdict["reason"] = reason


def forget() -> None:
    """Ask again next time (tests; a wizard whose user says the network is back)."""
    with _lock:
        _verdict.clear()


def child_env() -> dict[str, str]:
    """Environment for a worker: offline once known, so its hub client fails at once instead of retrying."""
    known = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in TRUE or _verdict.get("reason")
    return {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"} if known else {}
