"""Test doubles shared by several test modules."""

from __future__ import annotations

import threading

from hpo_analytics.simulator import Faults


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



class HeldRequests(Faults):
    """Simulator faults that hold every request whose path contains ``path`` at the door until :attr:`release`.

    ``arrived`` is set when the first one comes in (a watch has committed its
    intent and waits for the answer, so a kill then lands mid-request);
    ``handlers`` are the simulator threads serving the held requests and
    ``paths`` the paths they asked for.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path_contains=path)
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.handlers: list[threading.Thread] = []
        self.paths: list[str] = []

    def applies_to(self, path: str) -> bool:
        if not super().applies_to(path):
            return False
        self.handlers.append(threading.current_thread())
        self.paths.append(path)
        self.arrived.set()
        self.release.wait()
        return True
