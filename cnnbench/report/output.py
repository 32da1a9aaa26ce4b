"""Where a report goes: built in a staging folder beside ``--out`` and swapped in as one piece.

A report is several files (report.md, report.html, plots/, CSV and Parquet tables) that must agree with
each other. Writing them in place, a kill leaves half a PNG, a truncated table or plots deleted; here the
previous report stays whole until the new one replaces it in a single rename (:func:`cnnbench.atomic.swap_in`).
Files the run does not write (``--format csv`` leaves report.md) are carried over by hard link.

Because the whole folder is replaced, ``--out`` must hold a report and nothing else: a folder with other
files in it (``--out results``) is refused before any work.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from cnnbench.atomic import clean_stale, probe_writable, staging_dir, swap_in
from cnnbench.errors import CnnbenchError

REPORT_FILES = ("report.md", "report.html", "plots")
REPORT_SUFFIXES = (".csv", ".parquet")


def foreign_entries(out: Path) -> list[str]:
    """Entries of ``out`` that a report does not write (hidden temporary files aside)."""
    if not out.is_dir():
        return []
    return sorted(
        entry.name
        for entry in out.iterdir()
        if not entry.name.startswith(".") and entry.name not in REPORT_FILES and entry.suffix not in REPORT_SUFFIXES
    )


def check_out(out: Path) -> None:
    """``--out`` can take a report: a new folder, or one holding a report only, and writable."""
    if out.exists() and not out.is_dir():
        raise CnnbenchError(f"--out {out} is a file; give a folder for the report (default results/report)")
    foreign = foreign_entries(out)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise CnnbenchError(f"--out {out} holds files a report does not write ({shown}); give a folder for the report alone, e.g. {out / 'report'}")
    try:
        probe_writable(out, "--out", create=False)
    except OSError as error:
        raise CnnbenchError(f"--out {out} cannot be written: {error.strerror or error}; give a folder you can write to") from None


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A staging folder holding the current report (hard links); swapped in at ``out`` when the block ends."""
    clean_stale(out.parent)
    stage = staging_dir(out)
    try:
        if out.is_dir():
            shutil.copytree(out, stage, dirs_exist_ok=True, copy_function=_link, ignore=shutil.ignore_patterns(".*"))
        yield stage
        swap_in(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: a copy does as well
        shutil.copy2(source, target)
