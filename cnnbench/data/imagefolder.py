"""Your own images: ``root/train/<class>/*``, ``root/test/<class>/*`` and optionally ``root/val/<class>/*``.

PNG and JPEG files, greyscale or colour, of any size, are read with Pillow. The images of all splits get
one channel count (1 when every image is greyscale, else 3) and one size: their own when they all share
one no larger than ``max_size``, else each is scaled (aspect ratio kept, centred on black) to a square of
the largest side found, at most ``max_size``. The task then resizes them as its model needs.

Decoding is slow, so the decoded pixels are saved once as tensors in ``root/.cnnbench-cache/``, keyed by
every file's path, size and modification time: a second run (another process) loads them without
decoding, and any change to the folder decodes again. An unwritable ``root`` only loses the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cnnbench.atomic import writing
from cnnbench.data.dataset import ImageSplits
from cnnbench.data.files import how_to_get
from cnnbench.data.imageset import ImageSet, from_bytes
from cnnbench.errors import DataError, require

EXTENSIONS = (".png", ".jpg", ".jpeg")
#: folder name of each split; ``val`` is optional
FOLDERS = {"train": "train", "validation": "val", "test": "test"}
CACHE_DIR = ".cnnbench-cache"
CACHE_VERSION = 1
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}

log = logging.getLogger(__name__)


def class_files(folder: Path) -> dict[str, list[Path]]:
    """Each class sub-folder of ``folder`` and its image files, both sorted by name."""
    classes = sorted(entry for entry in folder.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    return {c.name: sorted(p for p in c.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS) for c in classes}


def interleaved(files: dict[str, list[Path]], classes: Sequence[str]) -> list[tuple[Path, int]]:
    """(file, label) taking one image of each class in turn, so that the first ``limit`` cover every class."""
    order = [(index, label, path) for label, name in enumerate(classes) for index, path in enumerate(files.get(name, []))]
    return [(path, label) for _, label, path in sorted(order, key=lambda item: (item[0], item[1]))]


def _fingerprint(listing: dict[str, list[tuple[Path, int]]], max_size: int) -> str:
    entries = []
    for split, items in listing.items():
        for path, label in items:
            stat = path.stat()
            entries.append((split, str(path), label, stat.st_size, stat.st_mtime_ns))
    text = json.dumps([CACHE_VERSION, max_size, entries])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _decode(items: list[tuple[Path, int]], channels: int, side: int | None) -> np.ndarray:
    """(N, channels, H, W) uint8 pixels; ``side`` set: each image padded-and-scaled to side x side."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    mode = "L" if channels == 1 else "RGB"
    arrays = []
    for path, _ in items:
        try:
            with Image.open(path) as image:
                image = image.convert(mode)
                if side is not None:
                    image = ImageOps.pad(image, (side, side), color=0)
                arrays.append(np.asarray(image, dtype=np.uint8))
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
            raise DataError(f"imagefolder: {path}: cannot decode: {error}") from None
    pixels = np.stack(arrays)
    return pixels[:, None] if channels == 1 else pixels.transpose(0, 3, 1, 2)


def _layout(items: list[tuple[Path, int]], max_size: int) -> tuple[int, int | None]:
    """The channel count of every image, and the common side to scale to (``None``: keep their own size)."""
    from PIL import Image, UnidentifiedImageError

    sizes, grey = set(), True
    for path, _ in items:
        try:
            with Image.open(path) as image:  # reads the header only
                sizes.add(image.size)
                grey = grey and image.mode in GREY_MODES
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:  # a header claiming gigapixels
            raise DataError(f"imagefolder: {path}: not a readable image: {error}") from None
    largest = max(max(size) for size in sizes)
    keep = len(sizes) == 1 and largest <= max_size
    return (1 if grey else 3), (None if keep else min(largest, max_size))


def _listing(root: Path) -> tuple[tuple[str, ...], dict[str, list[tuple[Path, int]]]]:
    expected = "root/train/<class>/*.png|jpg and root/test/<class>/*.png|jpg (and optionally root/val/<class>/*)"
    for split in ("train", "test"):
        if not (root / FOLDERS[split]).is_dir():
            raise DataError(f"imagefolder: no folder {root / FOLDERS[split]}; expected {expected}; {how_to_get(root)}")
    found = {split: class_files(root / folder) for split, folder in FOLDERS.items() if (root / folder).is_dir()}
    classes = tuple(name for name, files in found["train"].items() if files)
    for split, files in found.items():
        stray = sorted(name for name, paths in files.items() if paths and name not in classes)
        if stray:
            raise DataError(f"imagefolder: {root / FOLDERS[split]} has classes with no training images: {', '.join(stray)}")
    return classes, {split: interleaved(files, classes) for split, files in found.items()}


def load_imagefolder(root: Path, limit: int | None, max_size: int = 64) -> ImageSplits:
    """Your images: root/train/<class>/*, root/test/<class>/* and optionally root/val/<class>/*, PNG or JPEG, any size."""
    require(isinstance(max_size, int) and max_size >= 1, f"max_size must be an integer >= 1, got {max_size!r}")
    classes, listing = _listing(root)
    listing = {split: items[:limit] for split, items in listing.items()}
    if not all(listing.values()):
        empty = next(split for split, items in listing.items() if not items)
        raise DataError(f"imagefolder: {root / FOLDERS[empty]} holds no PNG or JPEG image in a class folder")
    cache = root / CACHE_DIR / f"imagefolder-{_fingerprint(listing, max_size)}.pt"
    pixels = _read_cache(cache)
    if pixels is None:
        channels, side = _layout([item for items in listing.values() for item in items], max_size)
        pixels = {split: torch.from_numpy(_decode(items, channels, side)) for split, items in listing.items()}
        _write_cache(cache, pixels)
    sets = {
        split: ImageSet(from_bytes(pixels[split].numpy()), torch.tensor([label for _, label in items]), classes)
        for split, items in listing.items()
    }
    return ImageSplits(train=sets["train"], test=sets["test"], validation=sets.get("validation"))


def _read_cache(path: Path) -> dict[str, torch.Tensor] | None:
    if not path.is_file():
        return None
    try:
        return torch.load(path, weights_only=True)
    except Exception as error:  # a torn or foreign file: decode again rather than fail
        log.warning("imagefolder: ignoring unreadable cache %s: %s", path, error)
        return None


def _write_cache(path: Path, pixels: dict[str, torch.Tensor]) -> None:
    try:
        path.parent.mkdir(exist_ok=True)
        for stale in path.parent.glob("imagefolder-*.pt"):
            stale.unlink()
        with writing(path) as handle:
            torch.save(pixels, handle)
    except OSError as error:
        log.warning("imagefolder: cannot cache decoded images in %s (%s); they will be decoded again next time", path.parent, error)
