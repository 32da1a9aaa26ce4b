"""`cnnbench run` on an empty or cut data file: one `cnnbench: error:` line, exit 2, no training (no NaN accuracy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from idx_files import write_idx_set

from cnnbench.cli import main


def mnist_with_cut_images(root: Path) -> Path:
    rng = np.random.default_rng(0)
    images = {split: rng.integers(0, 256, (8, 28, 28)) for split in ("train", "test")}
    write_idx_set(root / "mnist", images, {split: np.arange(8) % 10 for split in ("train", "test")})
    path = root / "mnist" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    return path


def cifar_with_empty_test_batch(root: Path) -> Path:
    (root / "cifar10").mkdir(parents=True)
    (root / "cifar10" / "data_batch_1.bin").write_bytes(bytes(3 * 3073))
    (root / "cifar10" / "test_batch.bin").write_bytes(b"")
    return root / "cifar10" / "test_batch.bin"


@pytest.mark.parametrize(
    ("dataset", "make", "says"),
    [("mnist", mnist_with_cut_images, "truncated: header declares 8 items"), ("cifar10", cifar_with_empty_test_batch, "empty; expected 3073-byte records")],
    ids=["cut IDX", "empty CIFAR batch"],
)
def test_a_broken_data_file_stops_the_run_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], dataset: str, make, says: str) -> None:
    broken = make(tmp_path / "data")
    status = main(["run", f"task.dataset={dataset}", f"data.root={tmp_path / 'data'}", "trainer.epochs=1", "trainer.progress=false", f"results.dir={tmp_path / 'results'}"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [next(line for line in err.splitlines() if line.startswith("cnnbench: error: "))]
    assert str(broken) in err and says in err
    assert not (tmp_path / "results" / "runs").exists()  # nothing trained, nothing recorded
