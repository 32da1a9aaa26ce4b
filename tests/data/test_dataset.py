"""Datasets are a kind: registered by plugins, checked before training, and loaded once per process."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnnbench import hookimpl
from cnnbench.data import ImageSet, ImageSplits, clear_cache, load_dataset
from cnnbench.data import dataset as datasets
from cnnbench.errors import DataError, InvalidHyperparameterError
from cnnbench.plugins import PluginSource, load_registry


def images(n: int, classes: tuple[str, ...] = ("a", "b")) -> ImageSet:
    return ImageSet(torch.rand(n, 1, 4, 4), torch.arange(n) % len(classes), classes)


class CountingPlugin:
    """A third-party dataset that counts how often it is read."""

    def __init__(self, test_size: int = 3) -> None:
        self.reads, self.test_size = 0, test_size

    @hookimpl
    def cnnbench_register_datasets(self, register) -> None:
        def toy(root: Path, limit: int | None, scale: float) -> ImageSplits:
            """A toy dataset."""
            self.reads += 1
            return ImageSplits(train=images(limit or 6), test=images(self.test_size))

        register("toy", toy, scale=1.0)


def registry_with(plugin: CountingPlugin):
    return load_registry(allow=["datasets"], extra=[(PluginSource("toy", "toy-dist"), plugin)], strict=True)


def test_a_plugin_dataset_is_loaded_once_per_name_root_options_and_limit(tmp_path: Path) -> None:
    plugin = CountingPlugin()
    registry = registry_with(plugin)
    first = load_dataset("toy", tmp_path, registry=registry)
    assert load_dataset("toy", tmp_path, registry=registry) is first and plugin.reads == 1
    load_dataset("toy", tmp_path, limit=4, registry=registry)
    load_dataset("toy", tmp_path / "elsewhere", registry=registry)
    load_dataset("toy", tmp_path, options={"scale": 2.0}, registry=registry)
    assert plugin.reads == 4
    clear_cache()
    load_dataset("toy", tmp_path, registry=registry)
    assert plugin.reads == 5


def test_a_caller_that_keeps_its_own_result_does_not_fill_the_cache(tmp_path: Path) -> None:
    plugin = CountingPlugin()
    registry = registry_with(plugin)
    load_dataset("toy", tmp_path, registry=registry, keep=False)
    assert len(datasets._loaded) == 0
    kept = load_dataset("toy", tmp_path, registry=registry)
    assert load_dataset("toy", tmp_path, registry=registry, keep=False) is kept and plugin.reads == 2


def test_prepared_splits_are_shared_tensors_in_new_dicts() -> None:
    from cnnbench.data.labelled import labelled_splits
    from cnnbench.data.splits import SplitSettings

    first = labelled_splits("digits", Path("."), 32, SplitSettings())
    first.train["images"] = None  # a task that swaps a tensor (metric learning's pairs) leaves the cache alone
    again = labelled_splits("digits", Path("."), 32, SplitSettings())
    assert again.test["images"] is first.test["images"] and again.train["images"] is not None
    assert labelled_splits("digits", Path("."), 32, SplitSettings(val_fraction=0.2)).validation["images"] is not again.validation["images"]
    assert len(datasets._loaded) == 0  # the raw images were not kept beside the prepared ones


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(datasets.CACHE_ENV, "0")
    plugin = CountingPlugin()
    registry = registry_with(plugin)
    load_dataset("toy", tmp_path, registry=registry)
    load_dataset("toy", tmp_path, registry=registry)
    assert plugin.reads == 2


def test_the_cache_keeps_a_few_datasets_only(tmp_path: Path) -> None:
    plugin = CountingPlugin()
    registry = registry_with(plugin)
    for limit in range(1, datasets.CACHE_SIZE + 2):
        load_dataset("toy", tmp_path, limit=limit, registry=registry)
    assert len(datasets._loaded) == datasets.CACHE_SIZE
    load_dataset("toy", tmp_path, limit=1, registry=registry)  # the oldest was dropped
    assert plugin.reads == datasets.CACHE_SIZE + 2


def test_an_empty_split_is_refused_before_training(tmp_path: Path) -> None:
    registry = registry_with(CountingPlugin(test_size=0))
    with pytest.raises(DataError, match=r"^dataset 'toy': the test split under .* has 0 images; every split needs at least one$"):
        load_dataset("toy", tmp_path, registry=registry)


def test_a_bad_limit_is_one_line() -> None:
    with pytest.raises(InvalidHyperparameterError, match="limit must be >= 1 or None, got 0"):
        load_dataset("digits", ".", limit=0)


def test_the_fingerprint_is_computed_once_and_tells_contents_apart() -> None:
    digits = load_dataset("digits", ".")
    assert digits.fingerprint == load_dataset("digits", ".").fingerprint
    assert digits.fingerprint != load_dataset("digits", ".", limit=100).fingerprint
    assert "fingerprint" in vars(digits)  # cached on the loaded dataset
