"""Arrays you already have: ``root/train.npz`` and ``root/test.npz`` (and optionally ``root/val.npz``), each with
arrays ``x`` (images) and ``y`` (integer labels).

``x`` may be (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1 or 3; uint8 pixels are scaled to [0, 1],
floating ones are kept as they are. Classes are named "0" up to the largest label of any split, or by an
optional array ``classes`` in ``train.npz``. Files are opened with ``allow_pickle=False``: loading runs no code.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import torch

from cnnbench.data.dataset import ImageSplits
from cnnbench.data.files import how_to_get
from cnnbench.data.imageset import ImageSet, from_bytes
from cnnbench.errors import DataError

FILES = {"train": "train.npz", "validation": "val.npz", "test": "test.npz"}
CHANNELS = (1, 3)
#: deflate cannot expand its input more than about 1032 times: a member claiming more is lying
DEFLATE_MAX_RATIO = 1032


def _images(x: np.ndarray, path: Path) -> torch.Tensor:
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[1] not in CHANNELS and x.shape[-1] in CHANNELS:
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] not in CHANNELS:
        raise DataError(f"{path}: x has shape {x.shape}; expected (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1 or 3")
    if x.dtype == np.uint8:
        return from_bytes(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{path}: x has dtype {x.dtype}; expected uint8 pixels or floating-point values")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _check_shapes(path: Path, names: tuple[str, ...]) -> None:
    """Refuse an array whose ``.npy`` header claims more data than its zip member can hold, before numpy allocates it.

    numpy allocates an array of the header's shape before reading a zip member into it, so a header that
    claims 2**31 images is a MemoryError (or terabytes reserved); the member's sizes in the zip directory
    bound what is really there.
    """
    with zipfile.ZipFile(path) as archive:
        for name in names:
            try:
                info = archive.getinfo(f"{name}.npy")
            except KeyError:
                continue  # a missing array is reported by name below
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(member)
                header_size = member.tell()
            claimed = math.prod(shape) * dtype.itemsize
            compressed = min(info.compress_size, path.stat().st_size)
            stored = compressed * (DEFLATE_MAX_RATIO if info.compress_type != zipfile.ZIP_STORED else 1)
            holds = min(info.file_size, stored) - header_size
            if claimed > holds:
                raise DataError(
                    f"{path}: the header of array {name} claims shape {tuple(shape)} of {dtype} ({claimed:,} bytes) but the archive holds"
                    f" at most {max(0, holds):,} bytes of it; expected a header that matches its data (is the file truncated?)"
                )


def _read(path: Path, limit: int | None) -> tuple[torch.Tensor, np.ndarray, np.ndarray | None]:
    try:
        _check_shapes(path, ("x", "y", "classes"))
        with np.load(path, allow_pickle=False) as arrays:
            missing = {"x", "y"} - set(arrays.files)
            if missing:
                raise DataError(f"{path}: no array {' or '.join(sorted(missing))}; it has {', '.join(arrays.files) or 'none'}")
            x, y = arrays["x"][:limit], arrays["y"][:limit]
            names = arrays["classes"] if "classes" in arrays.files else None
    except (OSError, ValueError, EOFError, MemoryError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: cannot read as .npz without pickles: {str(error).strip().splitlines()[0]}") from None
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
        raise DataError(f"{path}: y must be one non-negative integer label per image of x, got {y.dtype} {y.shape} for {len(x)} images")
    return _images(x, path), y, names


def load_npz(root: Path, limit: int | None) -> ImageSplits:
    """Your arrays: root/train.npz and root/test.npz (optionally root/val.npz), each with arrays x and y."""
    for split in ("train", "test"):
        if not (root / FILES[split]).is_file():
            raise DataError(f"npz: no {root / FILES[split]}; expected train.npz and test.npz with arrays x and y; {how_to_get(root)}")
    read = {split: _read(root / name, limit) for split, name in FILES.items() if (root / name).is_file()}
    names = read["train"][2]
    largest = max(int(y.max(initial=0)) for _, y, _ in read.values())
    classes = tuple(str(name) for name in names) if names is not None else tuple(str(label) for label in range(largest + 1))
    if largest >= len(classes):
        raise DataError(f"npz: label {largest} but train.npz names {len(classes)} classes")
    sets = {split: ImageSet(x, torch.from_numpy(y.astype(np.int64)), classes) for split, (x, y, _) in read.items()}
    return ImageSplits(train=sets["train"], test=sets["test"], validation=sets.get("validation"))
