"""``npz``: arrays x and y per split, in any common layout, read without unpickling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cnnbench.data import load_dataset
from cnnbench.errors import DataError


def save(root: Path, split: str, x: np.ndarray, y: np.ndarray, **extra: np.ndarray) -> None:
    root.mkdir(parents=True, exist_ok=True)
    np.savez(root / f"{split}.npz", x=x, y=y, **extra)


@pytest.mark.parametrize(
    ("shape", "channels"), [((5, 6, 7), 1), ((5, 6, 7, 3), 3), ((5, 3, 6, 7), 3), ((5, 1, 6, 7), 1)], ids=["NHW", "NHWC", "NCHW", "N1HW"]
)
def test_layouts_become_nchw_in_unit_range(tmp_path: Path, shape: tuple[int, ...], channels: int) -> None:
    x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    save(tmp_path, "train", x, np.array([0, 1, 2, 1, 0]))
    save(tmp_path, "test", x[:2], np.array([2, 0]))
    data = load_dataset("npz", tmp_path)
    assert data.train.images.shape == (5, channels, 6, 7) and float(data.train.images.max()) <= 1.0
    assert data.train.classes == ("0", "1", "2") and data.test.classes == data.train.classes and data.validation is None


def test_float_pixels_are_kept_and_classes_and_val_are_read(tmp_path: Path) -> None:
    x = np.linspace(-1, 1, 4 * 8 * 8, dtype=np.float64).reshape(4, 8, 8)
    save(tmp_path, "train", x, np.array([0, 1, 0, 1]), classes=np.array(["no", "yes"]))
    save(tmp_path, "val", x[:2], np.array([1, 0]))
    save(tmp_path, "test", x[:2], np.array([1, 1]))
    data = load_dataset("npz", tmp_path, limit=3)
    assert len(data.train) == 3 and data.train.images.min().item() == pytest.approx(-1.0)
    assert data.train.classes == ("no", "yes") and len(data.validation) == 2


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda root: save(root, "train", np.zeros((2, 4, 4)), np.array([0, 1])), r"npz: no .*test.npz; expected train.npz and test.npz"),
        (lambda root: (save(root, "train", np.zeros((2, 4, 4)), np.array([0])), save(root, "test", np.zeros((1, 4, 4)), np.array([0]))), "y must be one non-negative integer label per image"),
        (lambda root: (save(root, "train", np.zeros((2, 5, 4, 4)), np.array([0, 1])), save(root, "test", np.zeros((1, 4, 4)), np.array([0]))), r"x has shape \(2, 5, 4, 4\)"),
        (lambda root: (root.mkdir(), np.savez(root / "train.npz", x=np.array([{"a": 1}], dtype=object), y=np.array([0])), save(root, "test", np.zeros((1, 4, 4)), np.array([0]))), "cannot read as .npz without pickles"),
    ],
    ids=["no test file", "label count", "channels", "pickled objects"],
)
def test_bad_arrays_are_one_line_data_errors(tmp_path: Path, write, message: str) -> None:
    write(tmp_path / "set")
    with pytest.raises(DataError, match=message) as error:
        load_dataset("npz", tmp_path / "set")
    assert "\n" not in str(error.value)


def npz_claiming(path: Path, shape: tuple[int, ...], data: bytes) -> None:
    """An .npz whose x.npy header claims ``shape`` (uint8) but holds only ``data``, and a valid y."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    labels = io.BytesIO()
    np.save(labels, np.zeros(2, np.int64))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", header.getvalue() + data)
        archive.writestr("y.npy", labels.getvalue())


@pytest.mark.parametrize("shape", [(2**31, 28, 28), (2, 28, 28)], ids=["2**31 images", "two images, bytes of one"])
def test_an_array_header_claiming_more_than_the_archive_holds_is_one_line(tmp_path: Path, shape: tuple[int, ...]) -> None:
    save(tmp_path, "test", np.zeros((1, 4, 4), np.uint8), np.array([0]))
    npz_claiming(tmp_path / "train.npz", shape, bytes(28 * 28))
    with pytest.raises(DataError, match=rf"^{tmp_path / 'train.npz'}: the header of array x claims shape \({shape[0]}, 28, 28\)") as error:
        load_dataset("npz", tmp_path)
    assert "\n" not in str(error.value) and "is the file truncated?" in str(error.value)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 cut"], ids=["empty", "cut zip"])
def test_an_empty_or_cut_npz_is_one_line(tmp_path: Path, content: bytes) -> None:
    save(tmp_path, "test", np.zeros((1, 4, 4), np.uint8), np.array([0]))
    (tmp_path / "train.npz").write_bytes(content)
    with pytest.raises(DataError, match=rf"^{tmp_path / 'train.npz'}: cannot read as .npz") as error:
        load_dataset("npz", tmp_path)
    assert "\n" not in str(error.value)


def test_channels_last_pixels_become_contiguous_nchw_floats_of_the_same_values(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    save(tmp_path, "train", x, np.arange(5) % 2)
    save(tmp_path, "test", x[:1], np.array([0]))
    images = load_dataset("npz", tmp_path).train.images
    expected = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)).div_(255)
    assert images.is_contiguous() and torch.equal(images, expected)
