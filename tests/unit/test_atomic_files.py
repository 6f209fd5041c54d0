"""Files written whole or not at all: `atomic_write`, `atomic_write_parts` (a file made as it is written) and
`StagedFile` (one written for as long as its maker needs, put in place only when it says so)."""

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from anchoring.files import StagedFile, atomic_write, atomic_write_parts


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


def test_a_staged_file_is_in_place_only_once_committed(tmp_path: Path) -> None:
    path = tmp_path / "delivery.csv"
    path.write_bytes(b"the list before")
    staged = StagedFile(path, mode=0o600)
    staged.write(b"half ")
    staged.write(b"and the rest")
    assert path.read_bytes() == b"the list before"
    (temporary,) = [p for p in tmp_path.iterdir() if p != path]
    assert temporary.name.startswith(".delivery.csv.")
    assert stat.S_IMODE(temporary.stat().st_mode) == 0o600  # personal data: its owner's from the first byte
    staged.commit()
    assert path.read_bytes() == b"half and the rest"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [path]


def test_a_staged_file_not_committed_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "delivery.csv"
    path.write_bytes(b"the list before")

    def fails_halfway() -> None:
        with StagedFile(path) as staged:
            staged.write(b"half of the new list")
            raise RuntimeError("a receipt failed")

    with pytest.raises(RuntimeError, match="^a receipt failed$"):
        fails_halfway()
    assert path.read_bytes() == b"the list before"
    assert list(tmp_path.iterdir()) == [path]
    StagedFile(path).abort()
    assert list(tmp_path.iterdir()) == [path]


def test_a_killed_makers_staged_file_is_removed_by_the_next(tmp_path: Path) -> None:
    path = tmp_path / "delivery.csv"
    stale = tmp_path / ".delivery.csv.4242.tmp"
    stale.write_bytes(b"names and e-mails of a killed run")
    other = tmp_path / ".other.csv.4242.tmp"
    other.write_bytes(b"not ours")
    staged = StagedFile(path)
    assert not stale.exists()
    assert other.exists()
    staged.abort()
