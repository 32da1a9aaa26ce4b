"""USPS digits in the text format of "The Elements of Statistical Learning" (``zip.train.gz``, ``zip.test.gz``).

Each row is the digit, then 256 grey values in [-1, 1] (16x16, row-major).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cnnbench.data.files import find_file, open_data
from cnnbench.data.imageset import ImageSet
from cnnbench.errors import DataError

SIDE = 16
CLASSES = tuple(str(digit) for digit in range(10))
EXPECTED = "zip.train and zip.test (raw or .gz) from https://hastie.su.domains/ElemStatLearn/data.html"


def load_usps(root: Path, split: str, limit: int | None) -> ImageSet:
    """USPS from ``root/usps``: 7,291 training and 2,007 test digits of 16x16."""
    import pandas as pd  # here, not at the top: `cnnbench list` loads this module and pandas costs ~0.8 s

    path = find_file("usps", root / "usps", f"zip.{split}", EXPECTED)
    with open_data(path) as stream:
        # pandas' C parser takes ~0.3 s for the 7,291 rows; its errors name the bad line, short rows come back as NaN
        try:
            table = pd.read_csv(stream, sep=r"\s+", header=None, dtype=np.float32, nrows=limit).to_numpy()
        except ValueError as error:  # pandas' ParserError and EmptyDataError included
            raise DataError(f"{path}: not USPS text: {str(error).strip().splitlines()[0]}") from error
    labels, pixels = table[:, 0], table[:, 1:]
    if pixels.shape[1] != SIDE * SIDE or np.isnan(pixels).any():
        raise DataError(f"{path}: every row must hold a digit and {SIDE * SIDE} grey values")
    bad_rows = np.flatnonzero(~np.isin(labels, np.arange(len(CLASSES))))
    if len(bad_rows):
        first = bad_rows[0]
        raise DataError(f"{path}: row {first + 1} has label {labels[first]:g}; labels must be the digits 0-9")
    if np.abs(pixels).max(initial=0) > 1:
        raise DataError(f"{path}: grey values must lie in [-1, 1], found {np.abs(pixels).max()}")
    images = torch.from_numpy((pixels.reshape(-1, 1, SIDE, SIDE) + 1) / 2)
    return ImageSet(images, torch.from_numpy(labels.astype(np.int64)), CLASSES)
