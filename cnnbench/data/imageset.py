"""The in-memory image set every loader returns, and the one resize all tasks share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from cnnbench.errors import IncompatibleConfigError, InvalidHyperparameterError, UnknownComponentError

RESIZE_MODES = ("scale", "pad")


@dataclass(frozen=True)
class ImageSet:
    """Images as float32 in [0, 1], shaped (N, C, H, W); labels as int64 (N,) indexing ``classes``."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


def from_bytes(pixels: np.ndarray) -> torch.Tensor:
    """uint8 pixels (any shape) as float32 in [0, 1]; the copy ``astype`` makes lets torch own writable memory."""
    return torch.from_numpy(pixels.astype(np.float32)).div_(255)


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


def standardize(train: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Scale every split with the training split's per-channel mean and standard deviation."""
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return tuple((images - mean) / std for images in (train, *others))
