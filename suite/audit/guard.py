"""Calling an implementation under audit: a per-call time-out, and its failures turned into a status.

On the main thread the time-out is `signal.setitimer(ITIMER_REAL)`: SIGALRM interrupts a Python loop or a
sleep (a C kernel that never returns to the interpreter is interrupted when it does). Elsewhere (a worker
thread, a platform without SIGALRM) the call runs in a daemon thread that is abandoned after the time-out.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any


class ImplFailure(Exception):
    """The implementation under audit failed a call: status is "raised", "timeout" or "wrong shape"."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Alarm(BaseException):
    """Raised by the SIGALRM handler; a BaseException so that an impl's `except Exception` cannot swallow it."""


def _with_alarm(fn: Callable[[], Any], seconds: float) -> Any:
    def handler(signum, frame):
        raise _Alarm

    prev = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, prev)


def _with_thread(fn: Callable[[], Any], seconds: float) -> Any:
    box: dict[str, Any] = {}

    def target():
        try:
            box["out"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller below
            box["exc"] = exc

    th = threading.Thread(target=target, daemon=True)
    th.start()
    th.join(seconds)
    if th.is_alive():
        raise _Alarm
    if "exc" in box:
        raise box["exc"]
    return box["out"]


def call_with_timeout(fn: Callable[[], Any], seconds: float | None) -> Any:
    """`fn()`, or `_Alarm` after `seconds` (None or <= 0: no limit)."""
    if not seconds or seconds <= 0:
        return fn()
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        return _with_alarm(fn, seconds)
    return _with_thread(fn, seconds)


def guarded(impl: Callable[..., Any], timeout: float | None, name: str = "impl") -> Callable[..., Any]:
    """`impl` wrapped so that any exception or a hang becomes an `ImplFailure` naming `name`."""
    def call(*args, **kwargs):
        try:
            with _no_grad():
                return call_with_timeout(lambda: impl(*args, **kwargs), timeout)
        except _Alarm:
            raise ImplFailure("timeout", f"{name} did not return within {timeout:g} s") from None
        except ImplFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - any error of the audited code is a finding, not a crash
            raise ImplFailure("raised", f"{name} raised {type(exc).__name__}: {exc}"[:300]) from None
    return call


def _no_grad():
    import torch

    return torch.no_grad()
