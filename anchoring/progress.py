"""How long work reports progress without knowing who shows it (a rich bar in the CLI, nothing in tests)."""

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
