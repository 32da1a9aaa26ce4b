"""CIFAR-10 binary batches: the shared subset's bytes, several batch files, and broken or missing files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cnnbench.data import ImageSet, load_images
from cnnbench.data.cifar10 import load_cifar10
from cnnbench.errors import DataError

RECORD = 3073
STANDARD = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.fixture(scope="module")
def cifar(shared_data: Path) -> dict[str, ImageSet]:
    return {split: load_images("cifar10", shared_data, split) for split in ("train", "test")}


@pytest.fixture(scope="module")
def records(shared_data: Path) -> bytes:
    return (shared_data / "cifar10-subset" / "data_batch_1.bin").read_bytes()


def test_subset_has_its_documented_counts_shapes_and_classes(cifar: dict[str, ImageSet]) -> None:
    for split, count in (("train", 4000), ("test", 1000)):
        data = cifar[split]
        assert data.images.shape == (count, 3, 32, 32) and data.images.dtype == torch.float32
        assert data.labels.dtype == torch.int64 and data.labels.unique().tolist() == list(range(10))
        assert data.images.min() == 0 and data.images.max() == 1
        assert data.classes == STANDARD


def test_labels_and_pixels_are_the_record_bytes(cifar: dict[str, ImageSet], records: bytes) -> None:
    train = cifar["train"]
    assert train.labels.tolist() == list(records[::RECORD])
    # record k: label byte, then the red, green and blue 32x32 planes, row-major
    rng = np.random.default_rng(0)
    for k, channel, y, x in zip(*(rng.integers(0, high, 50) for high in (4000, 3, 32, 32))):
        assert train.images[k, channel, y, x] * 255 == records[k * RECORD + 1 + channel * 1024 + y * 32 + x]


def write_batches(folder: Path, records: bytes, counts: dict[str, int]) -> None:
    folder.mkdir(parents=True)
    start = 0
    for name, count in counts.items():
        (folder / name).write_bytes(records[start * RECORD : (start + count) * RECORD])
        start += count


def test_every_data_batch_file_is_read_in_numeric_order(
    tmp_path: Path, cifar: dict[str, ImageSet], records: bytes
) -> None:
    # written out of order, and data_batch_10 sorts before data_batch_2 as text
    counts = {"data_batch_2.bin": 5, "data_batch_10.bin": 15, "data_batch_1.bin": 10}
    write_batches(tmp_path / "cifar-10-batches-bin", records, counts)
    data = load_cifar10(tmp_path, "train", None)
    order = np.r_[20:30, 0:5, 5:20]  # file 1 holds source records 20..29, file 2 0..4, file 10 5..19
    assert torch.equal(data.images, cifar["train"].images[order])
    assert torch.equal(data.labels, cifar["train"].labels[order])
    assert data.classes == STANDARD  # no batches.meta.txt: the standard names
    head = load_cifar10(tmp_path, "train", 12)  # all of file 1 and the first two of file 2
    assert torch.equal(head.images, data.images[:12]) and torch.equal(head.labels, data.labels[:12])


def test_class_names_come_from_batches_meta(tmp_path: Path, records: bytes) -> None:
    write_batches(tmp_path / "cifar10", records, {"test_batch.bin": 3})
    (tmp_path / "cifar10" / "batches.meta.txt").write_text("\n".join(f"class {i}" for i in range(10)) + "\n\n")
    assert load_cifar10(tmp_path, "test", None).classes == tuple(f"class {i}" for i in range(10))


def test_a_file_that_is_not_whole_records_is_a_data_error(tmp_path: Path, records: bytes) -> None:
    write_batches(tmp_path / "cifar10", records, {"data_batch_1.bin": 2})
    path = tmp_path / "cifar10" / "data_batch_1.bin"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(DataError, match=rf"{path}: 6147 bytes is not a whole number of 3073-byte records") as error:
        load_images("cifar10", tmp_path, "train")
    assert "\n" not in str(error.value)


def test_a_label_beyond_the_classes_is_a_data_error(tmp_path: Path, records: bytes) -> None:
    write_batches(tmp_path / "cifar10", records, {"test_batch.bin": 2})
    (tmp_path / "cifar10" / "batches.meta.txt").write_text("cat\ndog\n")
    with pytest.raises(DataError, match=r"test_batch.bin: label \d but there are 2 classes"):
        load_cifar10(tmp_path, "test", None)


def test_missing_folders_are_all_named(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_images("cifar10", tmp_path, "train")
    message = str(error.value)
    assert all(str(tmp_path / name) in message for name in ("cifar10", "cifar10-subset", "cifar-10-batches-bin"))
    assert "binary version" in message and "never downloads" in message and "\n" not in message


def test_missing_test_batch_is_named(tmp_path: Path, records: bytes) -> None:
    write_batches(tmp_path / "cifar10-subset", records, {"data_batch_1.bin": 1})
    with pytest.raises(DataError, match=rf"cifar10: no test_batch.bin in {tmp_path / 'cifar10-subset'}"):
        load_images("cifar10", tmp_path, "test")


@pytest.mark.parametrize("name", ["data_batch_1.bin", "data_batch_2.bin"], ids=["the only file", "one of two"])
def test_an_empty_batch_file_is_a_one_line_data_error(tmp_path: Path, records: bytes, name: str) -> None:
    write_batches(tmp_path / "cifar10", records, {"data_batch_1.bin": 2, "data_batch_2.bin": 3, "test_batch.bin": 1})
    path = tmp_path / "cifar10" / name
    path.write_bytes(b"")
    with pytest.raises(DataError, match=rf"^{path}: empty; expected 3073-byte records \(a label byte, then 3x32x32 pixel bytes\)$"):
        load_images("cifar10", tmp_path, "train")


def test_a_record_cut_short_is_a_data_error_even_under_a_limit(tmp_path: Path, records: bytes) -> None:
    write_batches(tmp_path / "cifar10", records, {"data_batch_1.bin": 2, "data_batch_2.bin": 2})
    path = tmp_path / "cifar10" / "data_batch_2.bin"
    path.write_bytes(path.read_bytes()[:-100])  # the second file is checked before any record is read
    with pytest.raises(DataError, match=rf"^{path}: 6046 bytes is not a whole number of 3073-byte records"):
        load_cifar10(tmp_path, "train", 1)
