"""IDX loading: MNIST from the shared copy, any IDX set from a folder, and one-line errors for broken files."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from idx_files import NAMES, idx_bytes, write_idx_set

from cnnbench.data import ImageSet, clear_cache, load_images
from cnnbench.data.idx import load_idx
from cnnbench.errors import DataError

# md5 of the raw (decompressed) official files, from /work/shared/data/README.md
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
@pytest.fixture(scope="module")
def mnist(shared_data: Path) -> dict[str, ImageSet]:
    return {split: load_images("mnist", shared_data, split) for split in ("train", "test")}


def write_tiny_set(folder: Path, gz: bool = False) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A 20x12 IDX set with 6 training images over classes 0..3 and 4 test images over classes 0..2."""
    rng = np.random.default_rng(0)
    images = {"train": rng.integers(0, 256, (6, 20, 12)), "test": rng.integers(0, 256, (4, 20, 12))}
    labels = {"train": np.array([0, 3, 1, 2, 3, 0]), "test": np.array([2, 2, 1, 0])}
    write_idx_set(folder, images, labels, gz)
    return images, labels


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    write_tiny_set(tmp_path)
    return tmp_path


def test_mnist_has_the_official_counts_shapes_and_range(mnist: dict[str, ImageSet]) -> None:
    for split, count in (("train", 60_000), ("test", 10_000)):
        data = mnist[split]
        assert data.images.shape == (count, 1, 28, 28) and data.images.dtype == torch.float32
        assert data.labels.shape == (count,) and data.labels.dtype == torch.int64
        assert data.images.min() == 0 and data.images.max() == 1
        assert data.labels.unique().tolist() == list(range(10))
        assert data.classes == tuple("0123456789")


def test_mnist_first_labels_are_the_well_known_ones(mnist: dict[str, ImageSet]) -> None:
    assert mnist["train"].labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist["test"].labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_mnist_round_trips_to_the_official_files_byte_for_byte(mnist: dict[str, ImageSet]) -> None:
    # rebuilding each file from the loaded tensors must give the official md5: order, scaling and labels exact
    for split, (image_name, label_name) in NAMES.items():
        pixels = (mnist[split].images[:, 0] * 255).round().to(torch.uint8).numpy()
        assert hashlib.md5(idx_bytes(pixels)).hexdigest() == OFFICIAL_MD5[image_name]
        assert hashlib.md5(idx_bytes(mnist[split].labels.numpy())).hexdigest() == OFFICIAL_MD5[label_name]


def test_limit_gives_the_first_samples_and_the_same_classes(shared_data: Path, mnist: dict[str, ImageSet]) -> None:
    head = load_images("mnist", shared_data, "train", limit=50)
    assert torch.equal(head.images, mnist["train"].images[:50])
    assert torch.equal(head.labels, mnist["train"].labels[:50])
    assert head.classes == mnist["train"].classes


def test_raw_and_gzip_files_give_identical_arrays(shared_data: Path, tmp_path: Path, mnist: dict[str, ImageSet]) -> None:
    for name in NAMES["test"]:
        (tmp_path / name).write_bytes(gzip.decompress((shared_data / "mnist" / f"{name}.gz").read_bytes()))
    raw = load_idx(tmp_path, "test", None)
    assert torch.equal(raw.images, mnist["test"].images) and torch.equal(raw.labels, mnist["test"].labels)
    # with both present the raw file is read: a broken .gz beside it does not matter
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    assert torch.equal(load_idx(tmp_path, "test", None).images, mnist["test"].images)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_set_of_any_image_size_loads(tmp_path: Path, gz: bool) -> None:
    images, labels = write_tiny_set(tmp_path, gz)
    for split, classes in (("train", ("0", "1", "2", "3")), ("test", ("0", "1", "2", "3"))):  # the splits share their classes
        data = load_images("idx", tmp_path, split)
        assert data.images.shape == (len(labels[split]), 1, 20, 12)
        assert torch.equal(data.images[:, 0], torch.from_numpy(images[split] / 255).float())
        assert data.labels.tolist() == labels[split].tolist()
        assert data.classes == classes
        assert load_images("idx", tmp_path, split, limit=1).classes == classes  # read from every label


CORRUPTIONS = {
    "wrong magic": lambda data: struct.pack(">I", 2049) + data[4:],
    "truncated": lambda data: data[:-7],
    "trailing bytes": lambda data: data + bytes(240),
    "short header": lambda data: data[:6],
}


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_a_corrupt_image_file_is_a_one_line_data_error_naming_it(tiny: Path, how: str) -> None:
    path = tiny / "train-images-idx3-ubyte"
    path.write_bytes(CORRUPTIONS[how](path.read_bytes()))
    with pytest.raises(DataError, match="train-images-idx3-ubyte") as error:
        load_images("idx", tiny, "train")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("broken", [b"not gzip", gzip.compress(idx_bytes(np.arange(4)))[:-12]], ids=["garbage", "cut"])
def test_a_broken_gzip_file_is_a_data_error_naming_it(tiny: Path, broken: bytes) -> None:
    (tiny / "t10k-labels-idx1-ubyte").unlink()
    (tiny / "t10k-labels-idx1-ubyte.gz").write_bytes(broken)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: cannot read") as error:
        load_images("idx", tiny, "test")
    assert "\n" not in str(error.value)


def test_a_truncated_file_fails_only_when_the_limit_reaches_the_missing_part(tiny: Path) -> None:
    path = tiny / "train-images-idx3-ubyte"
    path.write_bytes(CORRUPTIONS["truncated"](path.read_bytes()))
    assert len(load_images("idx", tiny, "train", limit=5)) == 5  # the first five images are whole
    clear_cache()
    with pytest.raises(DataError, match="truncated: header declares 6 items but the file holds 5"):
        load_images("idx", tiny, "train", limit=6)


def test_label_count_must_match_image_count(tiny: Path) -> None:
    (tiny / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([2, 2, 1])))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: 3 labels for the 4 images"):
        load_images("idx", tiny, "test")


def test_mnist_labels_must_be_digits(tmp_path: Path) -> None:
    write_tiny_set(tmp_path / "mnist")
    assert len(load_images("mnist", tmp_path, "train")) == 6
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([2, 10, 1, 0])))
    clear_cache()
    with pytest.raises(DataError, match="label 10 in .*; MNIST labels are digits 0-9"):
        load_images("mnist", tmp_path, "test")


def test_missing_folder_names_the_path_the_files_and_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_images("mnist", tmp_path, "train")
    message = str(error.value)
    assert f"no train-images-idx3-ubyte(.gz) in {tmp_path / 'mnist'} (no such folder)" in message
    assert "never downloads" in message and "\n" not in message


def test_missing_label_file_is_named(tiny: Path) -> None:
    (tiny / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=rf"idx: no train-labels-idx1-ubyte\(\.gz\) in {tiny}; expected"):
        load_images("idx", tiny, "train")


def with_count(data: bytes, count: int) -> bytes:
    """An IDX file's bytes with the item count of its header replaced (written unsigned, as a tool might)."""
    return data[:4] + struct.pack(">I", count) + data[8:]


#: a header that claims far more than the file holds: reading or allocating what it says would need 480 GiB
HEADERS = {
    "2**31 - 1 images": lambda data: with_count(data, 2**31 - 1),
    "2**31 images": lambda data: with_count(data, 2**31),  # read as a negative int32
    "huge images": lambda data: data[:8] + struct.pack(">ii", 2**31 - 1, 2**31 - 1) + data[16:],
}


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("how", HEADERS)
def test_a_header_claiming_more_than_the_file_holds_is_one_line_not_a_memory_error(tmp_path: Path, how: str, gz: bool) -> None:
    write_tiny_set(tmp_path, gz)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    path = tmp_path / name
    data = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    path.write_bytes(gzip.compress(HEADERS[how](data)) if gz else HEADERS[how](data))
    with pytest.raises(DataError, match=rf"^{path}: ") as error:
        load_images("idx", tmp_path, "train")
    message = str(error.value)
    assert "\n" not in message and ("truncated: header declares" in message or "expected a count >= 0" in message)


def test_the_truncated_message_says_what_the_header_needs(tiny: Path) -> None:
    path = tiny / "train-images-idx3-ubyte"
    path.write_bytes(with_count(path.read_bytes(), 2**31 - 1))
    with pytest.raises(DataError) as error:
        load_images("idx", tiny, "train")
    assert str(error.value) == (
        f"{path}: truncated: header declares 2147483647 items but the file holds 6"
        " (1,440 data bytes; 2,147,483,647 items of 20x12 bytes need 515,396,075,280)"
    )


def test_a_label_file_claiming_2_31_labels_is_one_line(tiny: Path) -> None:
    path = tiny / "t10k-labels-idx1-ubyte"
    path.write_bytes(with_count(path.read_bytes(), 2**31 - 1))
    with pytest.raises(DataError, match=rf"^{path}: truncated: header declares 2147483647 items but the file holds 4 "):
        load_images("idx", tiny, "test")


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_an_empty_file_is_one_line(tiny: Path, gz: bool) -> None:
    path = tiny / ("train-images-idx3-ubyte.gz" if gz else "train-images-idx3-ubyte")
    (tiny / "train-images-idx3-ubyte").unlink()
    path.write_bytes(gzip.compress(b"") if gz else b"")
    with pytest.raises(DataError, match=rf"^{path}: 0 bytes, too short for an IDX header of 16 bytes$"):
        load_images("idx", tiny, "train")


def test_a_gzip_file_cut_short_inside_its_data_is_one_line(tiny: Path) -> None:
    path = tiny / "train-images-idx3-ubyte"
    compressed = gzip.compress(path.read_bytes())
    path.unlink()
    (tiny / "train-images-idx3-ubyte.gz").write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: cannot read") as error:
        load_images("idx", tiny, "train")
    assert "\n" not in str(error.value)
