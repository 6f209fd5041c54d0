"""How long work reports progress without knowing who shows it (a rich bar in the CLI, nothing in tests)."""

from collections.abc import Callable
from typing import Protocol


class Progress(Protocol):
    def stage(self, label: str, total: int | None = None) -> None:
        """Start a new stage of `total` steps (None: unknown length)."""

    def advance(self, steps: int = 1) -> None: ...

    def note(self, text: str) -> None:
        """A one-line status (waiting for confirmations, retrying the node...)."""


class Silent:
    def stage(self, label: str, total: int | None = None) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class StageClock:
    """A `Progress` that passes everything on and keeps how long each stage took (wall seconds, in order);
    `issue --timings` prints them. `clock` is injected (`time.perf_counter` in the CLI)."""

    def __init__(self, inner: Progress, clock: Callable[[], float]) -> None:
        self._inner = inner
        self._clock = clock
        self._started = clock()
        self._label: str | None = None
        self.stages: list[tuple[str, float]] = []

    def stage(self, label: str, total: int | None = None) -> None:
        self._close()
        self._label = label
        self._inner.stage(label, total)

    def advance(self, steps: int = 1) -> None:
        self._inner.advance(steps)

    def note(self, text: str) -> None:
        self._inner.note(text)

    def finish(self) -> list[tuple[str, float]]:
        """Close the running stage; every stage's (label, seconds), the same label summed in its first place."""
        self._close()
        summed: dict[str, float] = {}
        for label, seconds in self.stages:
            summed[label] = summed.get(label, 0.0) + seconds
        return list(summed.items())

    def _close(self) -> None:
        moment = self._clock()
        if self._label is not None:
            self.stages.append((self._label, moment - self._started))
        self._label = None
        self._started = moment
