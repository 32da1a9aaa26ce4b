"""USPS in the ESL text format: the shared copy's known counts and pixels, raw files, and malformed rows."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from cnnbench.data import ImageSet, load_images
from cnnbench.data.usps import load_usps
from cnnbench.errors import DataError

# per-digit counts from zip.info.txt
CLASS_COUNTS = {
    "train": [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644],
    "test": [359, 264, 198, 166, 200, 160, 170, 147, 166, 177],
}


@pytest.fixture(scope="module")
def usps(shared_data: Path) -> dict[str, ImageSet]:
    return {split: load_images("usps", shared_data, split) for split in ("train", "test")}


def test_usps_has_the_documented_counts_per_digit(usps: dict[str, ImageSet]) -> None:
    for split, counts in CLASS_COUNTS.items():
        data = usps[split]
        assert data.images.shape == (sum(counts), 1, 16, 16) and data.images.dtype == torch.float32
        assert data.labels.dtype == torch.int64 and torch.bincount(data.labels).tolist() == counts
        assert data.images.min() == 0 and data.images.max() == 1
        assert data.classes == tuple("0123456789")


def test_first_row_is_mapped_from_minus_one_plus_one_to_zero_one(shared_data: Path, usps: dict[str, ImageSet]) -> None:
    with gzip.open(shared_data / "usps" / "zip.train.gz", "rt") as text:
        first = [float(token) for token in text.readline().split()]
    assert usps["train"].labels[0] == first[0] == 6
    expected = (torch.tensor(first[1:]).view(16, 16) + 1) / 2
    torch.testing.assert_close(usps["train"].images[0, 0], expected)


def test_uncompressed_file_gives_the_same_set(shared_data: Path, tmp_path: Path, usps: dict[str, ImageSet]) -> None:
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "zip.test").write_bytes(gzip.decompress((shared_data / "usps" / "zip.test.gz").read_bytes()))
    raw = load_usps(tmp_path, "test", None)
    assert torch.equal(raw.images, usps["test"].images) and torch.equal(raw.labels, usps["test"].labels)


def test_limit_reads_only_the_first_rows(shared_data: Path, usps: dict[str, ImageSet]) -> None:
    head = load_images("usps", shared_data, "train", limit=9)
    assert torch.equal(head.images, usps["train"].images[:9]) and torch.equal(head.labels, usps["train"].labels[:9])


def row(label: float, value: float = -1.0, width: int = 256) -> str:
    return " ".join(f"{v:.4f}" for v in [label] + [value] * width)


@pytest.mark.parametrize(
    ("rows", "complaint"),
    [
        ([row(3), row(4, width=200)], "every row must hold a digit and 256 grey values"),
        ([row(3), row(4, width=300)], "not USPS text"),
        ([row(3), row(11)], "labels must be the digits 0-9"),
        ([row(3), row(2.5)], "labels must be the digits 0-9"),
        ([row(3), row(4, value=1.5)], r"grey values must lie in \[-1, 1\]"),
        ([row(3), row(4).replace("-1.0000", "x", 1)], "not USPS text"),
        ([], "not USPS text"),
    ],
    ids=["short row", "long row", "label 11", "fractional label", "value 1.5", "not a number", "empty"],
)
def test_malformed_file_is_a_one_line_data_error_naming_it(tmp_path: Path, rows: list[str], complaint: str) -> None:
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "zip.train").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=complaint) as error:
        load_images("usps", tmp_path, "train")
    assert str(tmp_path / "usps" / "zip.train") in str(error.value) and "\n" not in str(error.value)


def test_missing_file_names_the_folder(tmp_path: Path) -> None:
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "zip.train").write_text(" ".join(["3"] + ["0.5"] * 256) + "\n")
    with pytest.raises(DataError, match=rf"usps: no zip.test\(\.gz\) in {tmp_path / 'usps'}; expected"):
        load_images("usps", tmp_path, "test")


def test_a_gzip_file_cut_short_is_one_line(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "usps").mkdir()
    whole = (shared_data / "usps" / "zip.test.gz").read_bytes()
    path = tmp_path / "usps" / "zip.train.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=rf"^{path}: cannot read") as error:
        load_images("usps", tmp_path, "train")
    assert "\n" not in str(error.value)
