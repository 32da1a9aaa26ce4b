"""Finding and opening data files that may be stored raw or gzip-compressed."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cnnbench.errors import DataError


def how_to_get(directory: Path) -> str:
    """How every missing-data message ends: cnnbench reads data, it never fetches it."""
    return (
        f"download it yourself from the dataset's home page into {directory} or point data.root elsewhere"
        " (cnnbench never downloads)"
    )


def find_file(dataset: str, directory: Path, name: str, expected: str) -> Path:
    """``directory/name``, or ``name.gz`` when only the compressed file is there (raw is faster to read).

    Raises :class:`DataError` naming the folder, what ``expected`` there, and how to get it.
    """
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    missing = "" if directory.is_dir() else " (no such folder)"
    raise DataError(
        f"{dataset}: no {name}(.gz) in {directory}{missing}; expected {expected}; {how_to_get(directory)}"
    )


@contextmanager
def open_data(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for binary reading, decompressing ``.gz``; read errors become one-line :class:`DataError`."""
    try:
        with gzip.open(path) if path.suffix == ".gz" else path.open("rb") as stream:
            yield stream
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: cannot read: {error}") from error
