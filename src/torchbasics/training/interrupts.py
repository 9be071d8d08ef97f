"""Ctrl-C and SIGTERM during training: finish the current step, save, say how to resume.

Inside :func:`stop_on_signals`, the first SIGINT or SIGTERM only sets a flag that the
training loop reads after each step (a Python attribute: no device sync), so the loop
stops at a clean point and the caller saves a checkpoint there. A second signal raises
``KeyboardInterrupt`` at once, for when the user will not wait, unless it comes within a
grace period that makes it the same request delivered twice (see ``repeat_grace``). The
handlers that were there before come back when the block ends.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on request after saving ``last.pt``; the message says how to resume.

    A ``KeyboardInterrupt``, so that code not expecting it stops as on any Ctrl-C; the CLI
    prints the message and exits with code 130.
    """


class StopFlag:
    """Set by the first stop signal; call it (``flag()``) to ask whether to stop.

    Args:
        repeat_grace: seconds after the first signal in which another one is taken as the
            same request, not as an abort (torchrun passes on the signal it receives, so a
            worker may get one request twice).
        announce: print what is happening when the first signal arrives.
    """

    def __init__(self, *, repeat_grace: float = 0.0, announce: bool = True) -> None:
        self.signal_number: int | None = None
        self.repeat_grace = repeat_grace
        self.announce = announce
        self._first_at = 0.0

    def __call__(self) -> bool:
        return self.signal_number is not None

    def handle(self, signal_number: int, frame: object) -> None:
        """The signal handler: the first signal asks to stop, a second aborts."""
        if self.signal_number is not None:
            if time.monotonic() - self._first_at < self.repeat_grace:
                return
            raise KeyboardInterrupt
        self.signal_number = signal_number
        self._first_at = time.monotonic()
        if self.announce:
            name = signal.Signals(signal_number).name
            print(f"torchbasics: {name}: stopping after the current step to save last.pt "
                  "(send it again to abort without saving)", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stop_on_signals(
    signals: tuple[int, ...] = STOP_SIGNALS, *, repeat_grace: float = 0.0, announce: bool = True,
) -> Iterator[StopFlag]:
    """Catch ``signals`` into a :class:`StopFlag` (with these settings) for the block.

    Python lets only the main thread install signal handlers; elsewhere (training started
    from a worker thread) the flag is returned unset and signals keep their usual effect.
    """
    flag = StopFlag(repeat_grace=repeat_grace, announce=announce)
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {number: signal.getsignal(number) for number in signals}
    for number in signals:
        signal.signal(number, flag.handle)
    try:
        yield flag
    finally:
        for number, handler in previous.items():
            # None: a handler installed outside Python, which cannot be put back; the
            # default is the closest.
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
