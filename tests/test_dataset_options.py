"""A dataset's options are config keys, ``data.<dataset>.<option>``: composed, checked, loaded, identified."""

from __future__ import annotations

from pathlib import Path

import pytest
from image_files import write_folder
from omegaconf import OmegaConf

from cnnbench.composition import compose_run_config
from cnnbench.data import clear_cache, load_dataset
from cnnbench.errors import CnnbenchError
from cnnbench.plugins import default_registry
from cnnbench.preflight import check_run, plain
from cnnbench.records import config_identity
from cnnbench.training.execute import plan


def test_every_dataset_with_options_has_a_data_section_of_its_defaults() -> None:
    cfg = compose_run_config()
    registry = default_registry()
    with_options = {c.name: dict(c.defaults) for c in registry.components("dataset") if c.defaults}
    assert with_options, "a built-in dataset declares options (imagefolder.max_size)"
    for name, defaults in with_options.items():
        assert OmegaConf.to_container(cfg.data[name]) == defaults


def test_the_option_reaches_the_loader(tmp_path: Path) -> None:
    write_folder(tmp_path, {"train": 10, "test": 3}, size=(20, 20))
    write_folder(tmp_path, {"train": 1}, size=(12, 12))  # mixed sizes: scaled to at most max_size
    clear_cache()
    overrides = ["task.dataset=imagefolder", f"data.root={tmp_path}", "model=alexnet", "task.limit=30"]
    for max_size, expected in ((8, 8), (16, 16)):
        cfg = compose_run_config([*overrides, f"data.imagefolder.max_size={max_size}"])
        plan_ = plan(cfg, default_registry())
        assert plan_.dataset_options == {"max_size": max_size}
        assert load_dataset("imagefolder", tmp_path, options=plan_.dataset_options).train.images.shape[-1] == expected


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.imagefolder.max_size=0", r"^dataset .imagefolder.: max_size must be an integer >= 1, got 0"),
        ("data.imagefolder.max_size=1.5", r"data.imagefolder.max_size must be an integer"),
        ("+data.imagefolder.size=3", r"^dataset 'imagefolder' has no hyperparameter size: .*it has: data.imagefolder.max_size"),
        ("+data.imagefoldr.max_size=3", r"^unknown config key data.imagefoldr: did you mean data.imagefolder"),
    ],
)
def test_a_bad_option_is_one_line_naming_the_key(override: str, message: str) -> None:
    cfg = compose_run_config(["task.dataset=imagefolder", override])
    with pytest.raises(CnnbenchError, match=message) as error:
        check_run(cfg, default_registry())
    assert "\n" not in str(error.value)


def test_only_the_chosen_datasets_options_are_part_of_the_identity() -> None:
    registry = default_registry()

    def identity(*overrides: str) -> tuple[str, dict]:
        cfg = compose_run_config(list(overrides))
        return config_identity(plain(cfg), plan(cfg, registry).nodes, "fp", "cpu")

    digits, digits_other_option = identity(), identity("data.imagefolder.max_size=9")
    assert digits[0] == digits_other_option[0] and not any(key.startswith("data.imagefolder") for key in digits[1])
    folder, folder_other_size = identity("task.dataset=imagefolder"), identity("task.dataset=imagefolder", "data.imagefolder.max_size=9")
    assert folder[1]["data.imagefolder.max_size"] == 64 and folder[0] != folder_other_size[0]
