"""What a plugin author (or a user of ``model=custom``) gets wrong, refused in one line before any work.

Three of an outside audit's findings: a mapping given to a mapping-valued hyperparameter
(``'model.args={width: 16}'``, ``'sweep.sampler_args={n_startup_trials: 5}'``), a component whose factory
does not take its kind's context, and a dataset whose splits break the :class:`~cnnbench.data.ImageSet`
contract; then the presets and flags of the command line a review of those found refused in a traceback.
Each runs ``cnnbench.cli.main`` in this process over a copy of the installed registry with the test's
components added.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cnnbench.cli import main
from cnnbench.composition import compose_run_config, composing
from cnnbench.data import ImageSet, ImageSplits, load_dataset
from cnnbench.errors import DataError
from cnnbench.plugins import default_registry
from cnnbench.registry import Component, Registry

#: a run that needs no data files and trains in a second
TINY = ("task.dataset=digits", "task.limit=120", "trainer.epochs=1", "trainer.progress=false")


class UserNet(nn.Module):
    """A user's network for ``model=custom``: takes ``hidden`` through ``model.args``."""

    def __init__(self, num_classes: int, image_size: int, hidden: int = 2) -> None:
        super().__init__()
        self.hidden = hidden
        self.body = nn.Sequential(nn.Conv2d(1, hidden, 3, padding=1), nn.Flatten(), nn.Linear(hidden * image_size**2, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Shaped(nn.Module):
    """An activation with a mapping-valued hyperparameter."""

    def __init__(self, channels: int, options: dict[str, Any]) -> None:
        super().__init__()
        self.options = dict(options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


class NoChannels(nn.Module):
    """An activation whose factory forgot its kind's ``channels``."""

    def __init__(self, beta: float) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.beta


def pooling_without_stride(channels: int, kernel_size: int) -> nn.Module:
    """A pooling whose factory forgot ``stride``."""
    return nn.MaxPool2d(kernel_size)


def _images(n: int, scale: float = 1.0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return (torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * scale).to(dtype)


def _labels(n: int) -> torch.Tensor:
    return torch.arange(n) % 2


CLASSES = ("0", "1")


def _splits(train: ImageSet, test: ImageSet | None = None) -> Callable[..., ImageSplits]:
    def factory(root: Path, limit: int | None) -> ImageSplits:
        return ImageSplits(train=train, test=test or ImageSet(_images(50), _labels(50), CLASSES))

    return factory


#: datasets that break the contract, the split at fault, and what the one line says
BROKEN_DATASETS = {
    "short_labels": (_splits(ImageSet(_images(200), _labels(150), CLASSES)), "the train split has 200 images but 150 labels"),
    "bad_labels": (_splits(ImageSet(_images(200), _labels(200) * 5, CLASSES)), "the train split has label 5; labels must be in range(2)"),
    "negative_labels": (_splits(ImageSet(_images(200), _labels(200) - 1, CLASSES)), "the train split has label -1; labels must be in range(2)"),
    "float_labels": (_splits(ImageSet(_images(200), _labels(200).double(), CLASSES)), "the train split has float64 labels; labels must be int64"),
    "f64": (_splits(ImageSet(_images(200, dtype=torch.float64), _labels(200), CLASSES)), "the train split has float64 images; images must be float32"),
    "uint8_test": (
        _splits(ImageSet(_images(200), _labels(200), CLASSES), ImageSet(_images(50, 255.0, torch.uint8), _labels(50), CLASSES)),
        "the test split has uint8 images; images must be float32",
    ),
    "flat": (_splits(ImageSet(torch.rand(200, 64), _labels(200), CLASSES)), "the train split has images of shape (200, 64); images must be (N, C, H, W)"),
    "zero_sized": (
        _splits(ImageSet(torch.zeros(200, 1, 0, 0), _labels(200), CLASSES)),
        "the train split has images of shape (200, 1, 0, 0); C, H and W must be >= 1",
    ),
    "no_labels": (
        _splits(ImageSet(_images(200), None, CLASSES)),  # type: ignore[arg-type]
        "the train split has images of type Tensor and labels of type NoneType; both must be torch.Tensor",
    ),
    "scalar_labels": (_splits(ImageSet(_images(200), torch.tensor(1), CLASSES)), "the train split has labels of shape (); one label per image"),
    "unlabelled": (_splits(ImageSet(_images(200), _labels(0), CLASSES)), "the train split has 200 images but 0 labels"),
    "nan_pixels": (
        _splits(ImageSet(_images(200).index_fill_(0, torch.tensor([3]), float("nan")), _labels(200), CLASSES)),
        "the train split has non-finite pixel values",
    ),
}


def big_pixels(root: Path, limit: int | None) -> ImageSplits:
    """Pixels in [0, 255] instead of [0, 1]."""
    return ImageSplits(train=ImageSet(_images(200, 255.0), _labels(200), CLASSES), test=ImageSet(_images(50, 255.0), _labels(50), CLASSES))


def conforming(root: Path, limit: int | None) -> ImageSplits:
    """A dataset that keeps the contract at its edges: pixels 0 and 1 exactly, a validation split of its own,
    a test split of one image."""
    train = _images(200)
    train[0, 0, 0, 0], train[0, 0, 0, 1] = 0.0, 1.0
    validation = ImageSet(_images(20), _labels(20), CLASSES)
    return ImageSplits(train=ImageSet(train, _labels(200), CLASSES), test=ImageSet(_images(1), _labels(1), CLASSES), validation=validation)


def _component(kind: str, name: str, factory: Any, defaults: dict[str, Any] | None = None) -> Component:
    return Component(kind, name, factory, defaults or {}, "audit", "cnnbench-audit", "0.1")


@pytest.fixture
def audit_registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """The installed registry plus the test's components, as ``cnnbench`` would load them."""
    registry = default_registry().copy()
    registry.add(_component("activation", "shaped", Shaped, {"options": {}}))
    registry.add(_component("activation", "nochan", NoChannels, {"beta": 1.0}))
    registry.add(_component("pooling", "nostride", pooling_without_stride))
    registry.add(_component("dataset", "big_pixels", big_pixels))
    registry.add(_component("dataset", "conforming", conforming))
    registry.add(_component("dataset", "optioned", lambda root, limit, opts: big_pixels(root, limit), {"opts": {}}))
    for name, (factory, _) in BROKEN_DATASETS.items():
        registry.add(_component("dataset", name, factory))
    monkeypatch.setattr("cnnbench.plugins.default_registry", lambda: registry)
    return registry


def _refused(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str = "run") -> str:
    """Run ``cnnbench COMMAND ARGV``; assert exit 2, one error line, no traceback, nothing written; the line."""
    monkeypatch.chdir(tmp_path)
    status = main([command, *argv, f"results.dir={tmp_path / 'results'}"])
    captured = capsys.readouterr()
    assert status == 2, captured.err
    assert "Traceback" not in captured.err + captured.out
    errors = [line for line in captured.err.strip().splitlines() if line.startswith("cnnbench: error: ")]
    assert len(errors) == 1 and len(captured.err.strip().splitlines()) == 1, captured.err
    assert list(tmp_path.iterdir()) == [], sorted(tmp_path.rglob("*"))
    return errors[0]


# 1. a mapping given to a mapping-valued hyperparameter -------------------------------------------------


def test_model_args_takes_a_mapping_as_documented(audit_registry: Registry) -> None:
    cfg = compose_run_config(["model=custom", f"model.target={__name__}:UserNet", "model.args={hidden: 6}"], audit_registry)
    assert cfg.model.args == {"hidden": 6}
    assert compose_run_config(["model=custom", "model.args.hidden=3"], audit_registry).model.args == {"hidden": 3}


def test_a_plugin_hyperparameter_whose_default_is_a_mapping_takes_one(audit_registry: Registry) -> None:
    cfg = compose_run_config(["activation=shaped", "activation.options={a: 1, b: [2, 3]}"], audit_registry)
    assert cfg.activation.options == {"a": 1, "b": [2, 3]}
    assert compose_run_config(["data.optioned.opts={a: 1}"], audit_registry).data.optioned.opts == {"a": 1}


def test_model_args_mapping_runs_end_to_end(audit_registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["run", "model=custom", f"model.target={__name__}:UserNet", "model.args={hidden: 3}", *TINY, f"results.dir={tmp_path / 'results'}"]
    assert main(argv) == 0, capsys.readouterr().err
    [record] = (tmp_path / "results" / "runs").glob("*.json")
    assert '"hidden": 3' in record.read_text()


@pytest.mark.parametrize("kind", ["sampler", "pruner"])
def test_the_sweeps_keyword_arguments_take_a_mapping_as_documented(kind: str, audit_registry: Registry) -> None:
    given = {"sampler": "n_startup_trials: 5", "pruner": "n_warmup_steps: 1"}[kind]
    with composing(audit_registry) as session:
        cfg = session.compose("sweep_config", [f"sweep.{kind}_args={{{given}}}"])
        assert cfg.sweep[f"{kind}_args"] == {"sampler": {"n_startup_trials": 5}, "pruner": {"n_warmup_steps": 1}}[kind]
        assert session.compose("sweep_config", [f"sweep.{kind}_args.seed=3"]).sweep[f"{kind}_args"] == {"seed": 3}


def test_a_mapping_merged_into_a_closed_mapping_says_why_in_one_line(audit_registry: Registry, tmp_path: Path, capsys, monkeypatch) -> None:
    line = _refused(["results={dirr: 1}"], tmp_path, capsys, monkeypatch)
    assert "no hyperparameter" not in line and "unknown config key results:" not in line
    # the schema refuses +results.dirr=1 too: the line offers no + and names the keys there are
    assert line == "cnnbench: error: results has no key dirr to merge a value into; did you mean dir? its keys: dir, checkpoint"


def test_an_existing_key_is_never_said_to_be_missing(audit_registry: Registry, tmp_path: Path, capsys, monkeypatch) -> None:
    line = _refused(["data.imagefolder={max_siz: 1}"], tmp_path, capsys, monkeypatch)
    assert "unknown config key data.imagefolder" not in line and "+" not in line
    assert line.endswith("data.imagefolder has no key max_siz to merge a value into; did you mean max_size? its keys: max_size")


# 3. a factory whose signature does not take its kind's context ------------------------------------------


def test_a_factory_without_its_context_parameter_is_one_line_before_the_data(audit_registry, tmp_path: Path, capsys, monkeypatch) -> None:
    # the data is missing too: the factory is refused first, before any data is looked for
    line = _refused(["activation=nochan", "task.dataset=mnist", f"data.root={tmp_path}/nowhere", "trainer.epochs=1"], tmp_path, capsys, monkeypatch)
    assert "activation 'nochan' (cnnbench-audit)" in line and "channels" in line


def test_a_factory_missing_a_context_parameter_of_a_pooling(audit_registry, tmp_path: Path, capsys, monkeypatch) -> None:
    line = _refused(["pooling=nostride", *TINY], tmp_path, capsys, monkeypatch)
    assert "pooling 'nostride' (cnnbench-audit)" in line and "stride" in line


# 2. datasets that break the ImageSet contract ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BROKEN_DATASETS))
def test_a_dataset_breaking_the_contract_is_refused_before_training(name: str, audit_registry, tmp_path: Path, capsys, monkeypatch) -> None:
    line = _refused([f"task.dataset={name}", "trainer.epochs=1", "trainer.progress=false"], tmp_path, capsys, monkeypatch)
    assert f"dataset {name!r}: {BROKEN_DATASETS[name][1]}" in line


def test_load_dataset_refuses_a_broken_split(audit_registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^dataset 'short_labels': the train split has 200 images but 150 labels"):
        load_dataset("short_labels", tmp_path, registry=audit_registry)


def test_pixels_outside_0_1_warn_once_and_train(audit_registry: Registry, tmp_path: Path, caplog, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "task.dataset=big_pixels", "trainer.epochs=1", "trainer.progress=false", f"results.dir={tmp_path / 'results'}"]) == 0
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].startswith("warning: dataset 'big_pixels': pixel values outside [0, 1] (train [0.0203, 255], test ["), warnings


def test_a_conforming_dataset_passes_unchanged(audit_registry: Registry, tmp_path: Path, capsys, caplog, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["run", "task.dataset=conforming", "trainer.epochs=1", "trainer.progress=false", f"results.dir={tmp_path / 'results'}"]
    assert main(argv) == 0, capsys.readouterr().err
    assert not [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert "warning" not in capsys.readouterr().err


# 4. presets and flags of the command line ---------------------------------------------------------------


def test_a_preset_that_is_not_utf8_names_its_file(audit_registry, tmp_path: Path, tmp_path_factory, capsys, monkeypatch) -> None:
    presets = tmp_path_factory.mktemp("presets")
    (presets / "activation").mkdir()
    (presets / "activation" / "binary.yaml").write_bytes(b"\xff\xfe bad")
    line = _refused(["--config-dir", str(presets), "activation=binary"], tmp_path, capsys, monkeypatch)
    assert line.startswith(f"cnnbench: error: {presets / 'activation' / 'binary.yaml'}: not valid YAML (not UTF-8: byte 0xff at position 0); ")


@pytest.mark.parametrize("action", ["install=foo", "install", "install=", "uninstall=csh"])
def test_shell_completion_for_a_shell_hydra_does_not_complete(action: str, audit_registry, tmp_path: Path, capsys, monkeypatch) -> None:
    line = _refused(["--shell-completion", action], tmp_path, capsys, monkeypatch)
    assert f"--shell-completion {action}: " in line and "is not a shell Hydra completes" in line and "bash, zsh or fish" in line


def test_a_completion_query_by_hand_says_what_it_is_for(audit_registry, tmp_path: Path, capsys, monkeypatch) -> None:
    """query=SHELL is what the completion script runs with COMP_LINE set; by hand it was a KeyError traceback."""
    monkeypatch.delenv("COMP_LINE", raising=False)
    line = _refused(["--shell-completion", "query=zsh"], tmp_path, capsys, monkeypatch)
    assert "is what the installed completion script runs" in line and "install=zsh" in line


def test_bench_refuses_a_factory_it_could_not_call_before_timing(audit_registry, tmp_path: Path, capsys, monkeypatch) -> None:
    """It wrote one failed record per shape and exited 1; now one line, exit 2, nothing written."""
    monkeypatch.chdir(tmp_path)
    status = main(["bench", "activation", "--names", "nochan", "--repeats", "1", "--results", str(tmp_path / "results")])
    captured = capsys.readouterr()
    assert status == 2 and "Traceback" not in captured.err
    assert captured.err.strip().startswith("cnnbench: error: activation 'nochan' (") and "its factory NoChannels" in captured.err
    assert list(tmp_path.iterdir()) == []
