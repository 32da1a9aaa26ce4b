"""Built-in datasets: bundled digits, MNIST and any IDX set, USPS, CIFAR-10, your image folders and .npz arrays.

Each is ``factory(root, limit, **hp) -> ImageSplits``; the readers live in :mod:`cnnbench.data`. Nothing
is downloaded: a missing file is a one-line error that says what to put where.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cnnbench import hookimpl
from cnnbench.data.cifar10 import load_cifar10
from cnnbench.data.dataset import ImageSplits
from cnnbench.data.digits import load_digits
from cnnbench.data.idx import load_idx, load_mnist
from cnnbench.data.imagefolder import load_imagefolder
from cnnbench.data.imageset import ImageSet
from cnnbench.data.npz import load_npz
from cnnbench.data.usps import load_usps
from cnnbench.hookspecs import Register
from cnnbench.spec import Range, Spec

SplitReader = Callable[[Path, str, int | None], ImageSet]


def _train_and_test(read: SplitReader, summary: str) -> Callable[[Path, int | None], ImageSplits]:
    """A dataset from a reader of one split at a time; ``summary`` is what ``cnnbench list`` shows."""

    def load(root: Path, limit: int | None) -> ImageSplits:
        return ImageSplits(train=read(root, "train", limit), test=read(root, "test", limit))

    load.__doc__ = summary
    return load


def idx(root: Path, limit: int | None) -> ImageSplits:
    """Any IDX dataset in ``root`` itself; classes are "0" up to the largest label of either split."""
    splits = ImageSplits(train=load_idx(root, "train", limit), test=load_idx(root, "test", limit))
    classes = max(splits.train.classes, splits.test.classes, key=len)  # "0".."k": the longer names both
    return ImageSplits(train=replace(splits.train, classes=classes), test=replace(splits.test, classes=classes))


@hookimpl
def cnnbench_register_datasets(register: Register) -> None:
    register("digits", _train_and_test(load_digits, "scikit-learn's bundled 8x8 digits: 1,347 training and 450 test images, no files needed."))
    register("mnist", _train_and_test(load_mnist, "MNIST from root/mnist/ (IDX, raw or .gz): 60,000 training and 10,000 test digits of 28x28."))
    register("idx", idx)
    register("usps", _train_and_test(load_usps, "USPS from root/usps/zip.{train,test}(.gz): 7,291 training and 2,007 test digits of 16x16."))
    register("cifar10", _train_and_test(load_cifar10, "CIFAR-10 (binary version) from root/cifar10/: 50,000 training and 10,000 test colour images of 32x32."))
    register("imagefolder", Spec(load_imagefolder, {"max_size": 64}, {"max_size": Range(1, integer=True)}))
    register("npz", load_npz)
