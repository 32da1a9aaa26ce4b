"""Atomic writes: whole files or none, one file-mode policy, stale temporary files cleaned, folders swapped."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cnnbench import atomic


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_write_replaces_the_file_with_the_documented_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "a.txt"
    atomic.write_text(target, "old")
    atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]
    assert target.stat().st_mode & 0o777 == atomic.FILE_MODE & ~_umask()


def test_a_failed_write_keeps_the_previous_file_and_removes_its_temporary(tmp_path: Path) -> None:
    target = atomic.write_text(tmp_path / "a.txt", "previous")
    with pytest.raises(RuntimeError), atomic.writing(target, "w") as handle:
        handle.write("half of the new")
        raise RuntimeError("killed")
    assert target.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_clean_stale_removes_old_temporaries_only(tmp_path: Path) -> None:
    old, fresh, record = tmp_path / ".a.json.x1.tmp", tmp_path / ".b.json.x2.tmp", tmp_path / "c.json"
    for path in (old, fresh, record):
        path.write_text("x")
    os.utime(old, (time.time() - 2 * atomic.STALE_S,) * 2)
    os.utime(record, (time.time() - 2 * atomic.STALE_S,) * 2)
    assert atomic.clean_stale(tmp_path) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, record.name])


def test_probe_refuses_a_file_and_a_read_only_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        atomic.probe_writable(tmp_path / "file", "results.dir")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(PermissionError):
            atomic.probe_writable(locked, "results.dir")
    finally:
        locked.chmod(0o700)
    assert atomic.probe_writable(tmp_path / "new" / "folder", "results.dir").is_dir()


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_swap_in_replaces_a_folder_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool) -> None:
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    target = tmp_path / "report"
    target.mkdir()
    (target / "report.md").write_text("old")
    stage = atomic.staging_dir(target)
    (stage / "report.md").write_text("new")
    atomic.swap_in(stage, target)
    assert (target / "report.md").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["report"]
    fresh = atomic.staging_dir(tmp_path / "other")
    atomic.swap_in(fresh, tmp_path / "other")
    assert (tmp_path / "other").is_dir()
