"""Atomic writes: whoever reads a file cnnbench wrote, and whenever cnnbench is killed, sees a whole file.

Every file cnnbench writes (records, reports, plots, CSV and Parquet, checkpoints, sweep summaries and
reproduce files) goes through :func:`writing`: a temporary file in the target's folder, flushed and
fsynced, renamed over the target, then the folder fsynced so that the rename itself survives a crash. A
kill leaves at most a hidden ``.NAME.<random>.tmp`` beside the target; :func:`clean_stale` removes those
older than :data:`STALE_S` (a live writer's file is younger). A folder that must change as one piece (the
report) is built beside its target and swapped in with :func:`swap_in`.

File modes, one policy: files are created ``0o666`` and folders ``0o777``, both less the process umask,
which is what ``open()`` and ``mkdir`` give any tool (``mkstemp`` alone would give ``0o600``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o666
TMP_SUFFIX = ".tmp"
STALE_S = 3600.0
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def writing(path: Path | str, mode: str = "wb") -> Iterator[IO[Any]]:
    """A handle whose content replaces ``path`` in one step when the block ends without an error.

    >>> with writing(Path(tmp) / "a.txt", "w") as handle:  # doctest: +SKIP
    ...     handle.write("whole or not at all")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        os.fchmod(fd, FILE_MODE & ~_umask())
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_bytes(path: Path | str, data: bytes) -> Path:
    with writing(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text(path: Path | str, text: str) -> Path:
    with writing(path, "w") as handle:
        handle.write(text)
    return Path(path)


def clean_stale(folder: Path | str, older_than_s: float = STALE_S) -> list[Path]:
    """Remove the temporary files (and staging folders) that killed writers left in ``folder``."""
    folder, removed = Path(folder), []
    if not folder.is_dir():
        return removed
    cutoff = time.time() - older_than_s
    for entry in folder.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if entry.lstat().st_mtime < cutoff:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
                removed.append(entry)
    return removed


def probe_writable(folder: Path | str, what: str, *, create: bool = True) -> Path:
    """Prove that files can be written into ``folder`` by writing one; raise :class:`OSError` if not.

    With ``create`` the folder is made (parents too); without, the probe goes to its nearest existing
    ancestor and nothing is left on disk.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{what} {folder} is a file, not a folder")
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    probed = folder if create else next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not probed.is_dir():
        raise NotADirectoryError(f"{what}: {probed} is a file, not a folder")
    with tempfile.NamedTemporaryFile(dir=probed, prefix=".cnnbench-probe.", suffix=TMP_SUFFIX):
        pass
    return folder


def staging_dir(target: Path) -> Path:
    """A new, empty folder beside ``target`` to build its replacement in (see :func:`swap_in`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=TMP_SUFFIX))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system or kernel cannot exchange
        return False
    raise OSError(error, os.strerror(error), str(a))


def swap_in(staging: Path, target: Path) -> None:
    """Put the folder ``staging`` at ``target`` in one step; the previous ``target`` is removed after.

    Where the system cannot exchange two paths, ``target`` moves aside first and back if the second rename
    fails, so ``target`` is whole whenever it exists.
    """
    for folder in (staging, *staging.rglob("*")):
        if folder.is_dir():
            fsync_dir(folder)
    if not target.exists():
        os.replace(staging, target)
    elif not _exchange(staging, target):
        aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old.", suffix=TMP_SUFFIX))
        aside.rmdir()
        os.replace(target, aside)
        try:
            os.replace(staging, target)
        except BaseException:
            os.replace(aside, target)
            raise
        staging = aside
    fsync_dir(target.parent)
    shutil.rmtree(staging, ignore_errors=True)
