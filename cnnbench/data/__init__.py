"""Datasets: a kind of plugin (``cnnbench_register_datasets``); the built-in readers and the image helpers.

Built-in datasets: bundled digits, IDX (MNIST & co.), USPS, CIFAR-10 binary, image folders, ``.npz``
arrays; generated shapes scenes for segmentation and detection. Everything is read from files the user
already has (or generated); nothing is ever downloaded.

>>> from pathlib import Path
>>> from cnnbench.data import load_dataset
>>> load_dataset("digits", Path(".")).train.images.shape
torch.Size([1347, 1, 8, 8])
"""

from __future__ import annotations

from cnnbench.data import shapes
from cnnbench.data.dataset import ImageSplits, clear_cache, load_dataset
from cnnbench.data.imageset import ImageSet, resize, standardize
from cnnbench.data.loaders import load_images

#: ``Task.datasets`` of a task that trains on labelled images: every registered dataset (a shell wildcard)
ANY_DATASET = ("*",)

__all__ = ["ANY_DATASET", "ImageSet", "ImageSplits", "clear_cache", "load_dataset", "load_images", "resize", "shapes", "standardize"]
