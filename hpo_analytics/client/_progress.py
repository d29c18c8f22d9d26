"""Progress reporting: a user callback, or a plain text bar on stderr."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO, Union

from ..errors import ConfigurationError

__all__ = ["ProgressArg", "StderrBar", "resolve_progress"]

ProgressCallback = Callable[[int, int], None]
ProgressArg = Union[ProgressCallback, bool, None]


class StderrBar:
    """A one-line ``[#####     ] 120/10000 trials`` bar, redrawn at most every ``interval`` s."""

    def __init__(self, *, label: str = "trials", stream: TextIO | None = None, width: int = 30,
                 interval: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self._label = label
        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._interval = interval
        self._clock = clock
        self._last = -float("inf")
        self._drawn = False
        self._state = (0, 0)
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self._state = (done, total)
            now = self._clock()
            if now - self._last < self._interval and done < total:
                return
            self._last = now
            self._draw(done, total)

    def _draw(self, done: int, total: int) -> None:
        filled = self._width if total <= 0 else min(self._width, self._width * done // max(total, 1))
        bar = "#" * filled + " " * (self._width - filled)
        self._stream.write(f"\r[{bar}] {done}/{total} {self._label}")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Draw the final state and end the line."""
        with self._lock:
            self._draw(*self._state)
            self._stream.write("\n")
            self._stream.flush()


def resolve_progress(progress: ProgressArg, *, label: str) -> tuple[ProgressCallback | None, Callable[[], None]]:
    """``(callback, finish)`` for a ``progress=`` argument (a callable, ``True``, or falsy)."""
    if progress is None or progress is False:
        return None, lambda: None
    if progress is True:
        bar = StderrBar(label=label)
        return bar, bar.close
    if callable(progress):
        return progress, lambda: None
    raise ConfigurationError(f"progress must be a callable(done, total), True or None, not {type(progress).__name__}")
