"""Writing files so that a crash leaves either the old file or the new one, never half of either."""

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType


def atomic_write(path: Path, data: bytes, *, mode: int | None = None, durable: bool = True) -> None:
    """Write `data` to a temporary file beside `path`, flush it to disk, then rename it over `path`.

    `durable=False` skips the per-file fsync, for writing thousands of files that the caller then makes
    durable at once with `os.sync()` before it records them as written.
    """
    atomic_write_parts(path, (data,), mode=mode, durable=durable)


def atomic_write_parts(path: Path, parts: Iterable[bytes], *, mode: int | None = None, durable: bool = True) -> None:
    """`atomic_write` of the concatenation of `parts`, written as they come (a file of any size, made as it
    is written, in bounded memory). If making a part fails, the temporary file is removed and `path` is left
    as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if durable:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    else:
        # Bulk writes name the temporary file after the target and the process: no random name to make,
        # and a process killed mid-batch cannot collide with the one that resumes it.
        temp = str(path.parent / f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            for part in parts:
                handle.write(part)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, *, mode: int | None = None, durable: bool = True) -> None:
    atomic_write(path, text.encode("utf-8"), mode=mode, durable=durable)


def fsync_dir(path: Path) -> None:
    """Make renames inside `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagedFile:
    """A file written a part at a time, for as long as its maker needs, under a temporary name beside `path`
    (named after this process), and put in place only by `commit`: until then `path` is as it was. A killed
    run's temporary file is removed when the next one starts (one writer of `path` at a time)."""

    def __init__(self, path: Path, *, mode: int | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        self.path = path
        self._temp = path.parent / f".{path.name}.{os.getpid()}.tmp"
        fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644 if mode is None else mode)
        if mode is not None:
            os.fchmod(fd, mode)  # whatever the umask
        self._handle = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self._handle.write(data)

    def commit(self) -> None:
        """Flush the file to disk and rename it over `path`."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._temp, self.path)

    def abort(self) -> None:
        self._handle.close()
        self._temp.unlink(missing_ok=True)

    def __enter__(self) -> "StagedFile":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if not self._handle.closed:
            self.abort()  # not committed: an error, or the maker chose not to
