"""Files written whole or not at all: `atomic_write` and `atomic_write_parts` (a file made as it is written)."""

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from anchoring.files import atomic_write, atomic_write_parts


def test_parts_are_written_one_after_another_with_the_mode_asked(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    atomic_write_parts(path, (bytes([65 + i]) * 3 for i in range(4)), mode=0o600)
    assert path.read_bytes() == b"AAABBBCCCDDD"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    atomic_write(path, b"whole", durable=False)
    assert path.read_bytes() == b"whole"


def test_a_part_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(b"the list before")

    def parts() -> Iterator[bytes]:
        yield b"half of the new list"
        raise OSError("the store went away")

    with pytest.raises(OSError, match="^the store went away$"):
        atomic_write_parts(path, parts())
    assert path.read_bytes() == b"the list before"
    assert [p.name for p in tmp_path.iterdir()] == ["list.csv"]
