"""The in-memory image set every loader returns, and the one resize all tasks share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from cnnbench.errors import IncompatibleConfigError, InvalidHyperparameterError, UnknownComponentError

RESIZE_MODES = ("scale", "pad")
#: how many bytes of images :func:`resized_rows` resizes at a time: its temporaries stay this small
CHUNK_BYTES = 2 * 2**20


@dataclass(frozen=True)
class ImageSet:
    """Images as float32 in [0, 1], shaped (N, C, H, W); labels as int64 (N,) indexing ``classes``."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


def from_bytes(pixels: np.ndarray) -> torch.Tensor:
    """uint8 pixels (any shape, any strides) as contiguous float32 in [0, 1], in one copy: the one ``astype`` makes,
    which also lets torch own writable memory."""
    return torch.from_numpy(pixels.astype(np.float32, order="C")).div_(255)


def resize(images: torch.Tensor, size: int, *, mode: Literal["scale", "pad"] = "scale") -> torch.Tensor:
    """Bring (N, C, H, W) images to ``size`` x ``size``, keeping their aspect ratio.

    ``"scale"`` interpolates bilinearly (antialiased when shrinking) so the longer side becomes ``size``,
    then centres the image on zeros along the shorter side. ``"pad"`` centres the unscaled image on zeros,
    as LeNet-5 fed 28x28 MNIST digits into its 32x32 input.

    >>> resize(torch.ones(2, 1, 28, 28), 32, mode="pad").shape
    torch.Size([2, 1, 32, 32])
    """
    if mode not in RESIZE_MODES:
        raise UnknownComponentError("resize mode", mode, RESIZE_MODES)
    if size < 1:
        raise InvalidHyperparameterError(f"image size must be >= 1, got {size}")
    height, width = images.shape[-2:]
    if (height, width) == (size, size):
        return images
    if mode == "scale":
        factor = size / max(height, width)
        height, width = max(1, round(height * factor)), max(1, round(width * factor))
        images = F.interpolate(images, size=(height, width), mode="bilinear", antialias=factor < 1)
    elif height > size or width > size:
        raise IncompatibleConfigError(
            f"cannot pad {height}x{width} images to {size}x{size}: they are larger; use mode='scale'"
        )
    top, left = (size - height) // 2, (size - width) // 2
    return F.pad(images, (left, size - width - left, top, size - height - top))


def resized_rows(images: torch.Tensor, size: int, index: torch.Tensor | None = None) -> torch.Tensor:
    """``resize(images[index], size)`` (all of ``images`` without ``index``), always a new tensor, allocated once.

    Resizing a whole split at once holds the indexed copy, the resized one and the padded one together
    (MNIST's training split: +470 MiB for 236 MiB kept); resizing is per image, so filling the result
    chunk by chunk gives the same values with temporaries of :data:`CHUNK_BYTES`.
    """
    count = len(images) if index is None else len(index)
    resized = torch.empty((count, images.shape[1], size, size), dtype=images.dtype)
    step = max(1, CHUNK_BYTES // (images.shape[1] * size * size * resized.element_size()))
    for start in range(0, count, step):
        rows = slice(start, start + step)
        resized[rows] = resize(images[rows] if index is None else images[index[rows]], size)
    return resized


def channel_statistics(train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel mean and standard deviation (at least 1e-6) of (N, C, H, W) images, shaped (1, C, 1, 1)."""
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return mean, std


def standardize(train: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Scale every split with the training split's per-channel mean and standard deviation (new tensors;
    ``images.sub_(mean).div_(std)`` with :func:`channel_statistics` does the same in place)."""
    mean, std = channel_statistics(train)
    return tuple((images - mean) / std for images in (train, *others))
