"""Folders of small PNG/JPEG images per class, for the imagefolder dataset's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("cat", "dog", "emu")


def write_folder(root: Path, per_class: dict[str, int], *, mode: str = "L", size: tuple[int, int] = (12, 12), suffix: str = ".png") -> None:
    """``per_class[split]`` images of each class; class k is filled with grey level 40 + 80 k (plus noise)."""
    generator = np.random.default_rng(0)
    for split, count in per_class.items():
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                value = 40 + 80 * label + generator.integers(0, 10, size=size[::-1])
                pixels = value.astype(np.uint8)
                image = Image.fromarray(pixels, mode="L")
                (image.convert(mode) if mode != "L" else image).save(folder / f"{index}{suffix}")
