"""``imagefolder``: a folder of PNG/JPEG images per class trains like any dataset, decoded once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from image_files import CLASSES, write_folder
from PIL import Image

from cnnbench.composition import compose_run_config
from cnnbench.data import clear_cache, imagefolder, load_dataset
from cnnbench.errors import DataError
from cnnbench.plugins import default_registry
from cnnbench.training.execute import execute


def test_grey_pngs_load_with_class_names_and_labels(tmp_path: Path) -> None:
    write_folder(tmp_path, {"train": 4, "test": 2})
    data = load_dataset("imagefolder", tmp_path)
    assert data.train.images.shape == (12, 1, 12, 12) and data.test.images.shape == (6, 1, 12, 12)
    assert data.train.classes == CLASSES and data.validation is None
    assert data.train.labels[:3].tolist() == [0, 1, 2]  # interleaved: a limit covers every class
    means = [data.train.images[data.train.labels == k].mean().item() * 255 for k in range(3)]
    assert means == pytest.approx([44.5, 124.5, 204.5], abs=1.5)


def test_rgb_jpegs_of_mixed_sizes_get_three_channels_and_one_size(tmp_path: Path) -> None:
    write_folder(tmp_path, {"train": 2, "test": 1}, mode="RGB", size=(20, 10), suffix=".jpg")
    Image.new("RGB", (30, 40), (255, 0, 0)).save(tmp_path / "train" / "cat" / "big.JPEG")
    data = load_dataset("imagefolder", tmp_path, options={"max_size": 32})
    assert data.train.images.shape == (7, 3, 32, 32) and data.test.images.shape == (3, 3, 32, 32)


def test_a_val_folder_is_the_validation_split(tmp_path: Path) -> None:
    write_folder(tmp_path, {"train": 3, "val": 1, "test": 1})
    data = load_dataset("imagefolder", tmp_path)
    assert len(data.validation) == 3 and data.validation.classes == CLASSES


def test_a_second_load_reads_the_tensor_cache_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_folder(tmp_path, {"train": 2, "test": 1})
    first = load_dataset("imagefolder", tmp_path)
    assert len(list((tmp_path / imagefolder.CACHE_DIR).glob("*.pt"))) == 1
    clear_cache()  # as a new process would start

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(imagefolder, "_decode", no_decoding)
    again = load_dataset("imagefolder", tmp_path)
    assert torch.equal(again.train.images, first.train.images) and torch.equal(again.test.labels, first.test.labels)
    Image.new("L", (12, 12), 7).save(tmp_path / "test" / "emu" / "new.png")  # any change decodes again
    clear_cache()
    with pytest.raises(AssertionError, match="decoded again"):
        load_dataset("imagefolder", tmp_path)


def test_an_unwritable_root_only_loses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_folder(tmp_path, {"train": 1, "test": 1})
    monkeypatch.setattr(imagefolder, "CACHE_DIR", "no/such/parent")
    assert len(load_dataset("imagefolder", tmp_path).train) == 3


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda root: (root / "train").mkdir(), r"imagefolder: no folder .*/test; expected root/train/<class>/"),
        (lambda root: write_folder(root, {"train": 1, "test": 0}), r"imagefolder: .*/test holds no PNG or JPEG image"),
        (lambda root: (write_folder(root, {"train": 1, "test": 1}), (root / "test" / "owl").mkdir(), Image.new("L", (2, 2)).save(root / "test" / "owl" / "0.png")), "classes with no training images: owl"),
        (lambda root: (write_folder(root, {"train": 1, "test": 1}), (root / "train" / "cat" / "bad.png").write_bytes(b"not a png")), r"bad.png: not a readable image"),
    ],
    ids=["no test folder", "empty test split", "test-only class", "corrupt file"],
)
def test_bad_folders_are_one_line_data_errors(tmp_path: Path, prepare, message: str) -> None:
    prepare(tmp_path)
    with pytest.raises(DataError, match=message) as error:
        load_dataset("imagefolder", tmp_path)
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_a_folder_of_pngs_trains_with_task_dataset_imagefolder(tmp_path: Path) -> None:
    write_folder(tmp_path / "images", {"train": 20, "test": 5})
    cfg = compose_run_config(
        ["task.dataset=imagefolder", f"data.root={tmp_path / 'images'}", "trainer.epochs=5", "trainer.batch_size=8", "trainer.progress=false", f"results.dir={tmp_path / 'results'}"]
    )
    _, path = execute(cfg, default_registry())
    saved = json.loads(path.read_text())
    assert saved["dataset"] == "imagefolder" and saved["status"] == "completed"
    assert saved["metrics"]["test"]["accuracy"] > 0.9  # three grey levels: trivially separable


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` grey pixels, with a few bytes of data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(16))) + chunk(b"IEND", b"")


def test_a_png_claiming_gigapixels_is_a_one_line_data_error(tmp_path: Path) -> None:
    write_folder(tmp_path, {"train": 1, "test": 1})
    bomb = tmp_path / "train" / "cat" / "bomb.png"
    bomb.write_bytes(png_claiming(100_000, 100_000))  # 10 gigapixels: Pillow refuses it as a decompression bomb
    with pytest.raises(DataError, match=rf"^imagefolder: {bomb}: not a readable image: ") as error:
        load_dataset("imagefolder", tmp_path)
    assert "\n" not in str(error.value)
