"""Test doubles shared by several test modules."""

from __future__ import annotations


class Clock:
    """A fake monotonic clock that ``sleep`` advances (no test waits for real time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now
