"""Dataset loaders: bundled digits, IDX (MNIST & co.), USPS, CIFAR-10 binary, and generated shapes.

Everything is read from files the user already has (or generated); nothing is ever downloaded.

>>> from pathlib import Path
>>> from cnnbench.data import load_images
>>> load_images("digits", Path("."), "train").images.shape
torch.Size([1347, 1, 8, 8])
"""

from __future__ import annotations

from cnnbench.data import shapes
from cnnbench.data.imageset import ImageSet, resize, standardize
from cnnbench.data.loaders import DATASETS, load_images

__all__ = ["DATASETS", "ImageSet", "load_images", "resize", "shapes", "standardize"]
