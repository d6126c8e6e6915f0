"""One sample's failure stays that sample's: what stops a run, stop signals, and a time limit on editor calls.

A run stops for exactly three things: Ctrl-C (``KeyboardInterrupt``), SIGTERM (:class:`Terminated`, a
``KeyboardInterrupt``), and storage trouble (:class:`rses.storage.StorageError`). Anything else an editor or a
metric raises for a sample, ``SystemExit``, ``GeneratorExit`` and other ``BaseException`` included, is that
sample's failed row (:func:`error_text` is its ``error`` column).

:func:`stop_signals` turns SIGINT and SIGTERM into those exceptions in the main thread and remembers them, so
an editor that swallows the exception still stops the run after the batch (:func:`raise_if_stopped`).

:func:`call_with_timeout` runs a call in a daemon worker thread and waits at most ``seconds``. A call that
does not return in time raises :class:`CallTimeout` and is abandoned: a thread cannot be killed, so it goes on
running (holding whatever GPU memory and compute it holds) until it returns or the process exits, and its
result is dropped. A thread shares the process's CUDA context, which a child process could not after CUDA is
initialised; the worker gets the caller's current CUDA device and grad mode (both are per thread).

Example:
    >>> call_with_timeout(lambda: 2 + 2, seconds=5.0, what="a sum")
    4
    >>> error_text(SystemExit(3))
    'SystemExit: 3'
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
#: Longest ``error`` text kept in a row; the rest of a longer message is cut.
MAX_ERROR_CHARS = 2000

_stop: dict[str, int | None] = {"signum": None}


class Terminated(KeyboardInterrupt):
    """A stop signal (SIGTERM) asked the run to stop; handled like Ctrl-C. ``signum`` is the signal."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


class CallTimeout(TimeoutError):
    """A call did not return within its time limit and was abandoned (it may still be running)."""


def is_stop(err: BaseException) -> bool:
    """Whether ``err`` stops the whole run (Ctrl-C, a stop signal) instead of failing one sample."""
    return isinstance(err, KeyboardInterrupt)


def error_text(err: BaseException) -> str:
    """``"Type: message"`` for a failed row, even when the exception's ``__str__`` itself raises; cut to
    ``MAX_ERROR_CHARS``.
    """
    try:
        message = str(err)
    except BaseException as inner:  # noqa: BLE001  (a hostile __str__ must not end the run)
        message = f"<message unprintable: {type(inner).__name__}>"
    text = f"{type(err).__name__}: {message}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


@contextmanager
def stop_signals() -> Iterator[None]:
    """While inside, SIGINT raises ``KeyboardInterrupt`` and SIGTERM :class:`Terminated` in the main thread,
    and both are remembered for :func:`raise_if_stopped`. A second signal of the same kind acts as it did
    before (SIGTERM then ends the process at once). No-op outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _stop["signum"] = None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        _stop["signum"] = signum
        signal.signal(signum, _restorable(previous[signum]))
        raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, _restorable(old))
        _stop["signum"] = None


def _restorable(handler: Any):
    return signal.SIG_DFL if handler is None else handler


def raise_if_stopped() -> None:
    """Raise the stop request that arrived while inside :func:`stop_signals`, if any (an editor may have
    caught the exception the signal raised).
    """
    signum = _stop["signum"]
    if signum is not None:
        raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def call_with_timeout(fn: Callable[[], T], seconds: float | None, what: str) -> T:
    """``fn()``, or :class:`CallTimeout` when it has not returned after ``seconds`` (``None``: no limit, called
    in this thread). Whatever ``fn`` raises is raised here.
    """
    if seconds is None:
        return fn()
    result: dict[str, object] = {}
    done = threading.Event()
    device, grad = _thread_state()

    def work() -> None:
        try:
            _set_thread_state(device, grad)
            result["value"] = fn()
        except BaseException as err:  # noqa: BLE001  (handed to the caller, which decides)
            result["error"] = err
        finally:
            done.set()

    threading.Thread(target=work, name=f"rses {what}", daemon=True).start()
    if not done.wait(seconds):
        raise CallTimeout(
            f"{what} did not return within {seconds:g} s (--sample-timeout); the call was abandoned and may "
            "still be running"
        )
    if "error" in result:
        raise result["error"]
    return result["value"]


def _thread_state() -> tuple[int | None, bool | None]:
    torch = sys.modules.get("torch")
    if torch is None:
        return None, None
    device = torch.cuda.current_device() if torch.cuda.is_initialized() else None
    return device, torch.is_grad_enabled()


def _set_thread_state(device: int | None, grad: bool | None) -> None:
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if device is not None:
        torch.cuda.set_device(device)
    if grad is not None:
        torch.set_grad_enabled(grad)
