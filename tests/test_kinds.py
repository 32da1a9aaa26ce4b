"""One table of kinds: the hooks, config groups, parts, conformance samples and bench inputs come from it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnbench import hookspecs
from cnnbench.composition import compose_run_config
from cnnbench.errors import InvalidHyperparameterError, UnknownComponentError
from cnnbench.kinds import BENCH_KINDS, DEFAULT_BASELINE, GROUPS, KINDS, MODULE_KINDS, SLOTS, load_object
from cnnbench.parts import Parts
from cnnbench.registry import Registry
from cnnbench.training.execute import execute


def test_every_kind_has_its_hook_and_its_makers_resolve() -> None:
    for kind in KINDS.values():
        hook = getattr(hookspecs, kind.hook)
        assert getattr(hook, "cnnbench_spec", None) is not None and kind.name in hook.__doc__
        for maker in (kind.samples_maker(), kind.bench_maker()):
            assert maker is None or callable(maker)
    assert set(MODULE_KINDS) >= set(BENCH_KINDS) and set(SLOTS) <= set(GROUPS)
    assert DEFAULT_BASELINE == {"convolution": "conv", "pooling": "max", "activation": "relu", "normalization": "none", "loss": "softmax"}


def test_every_kind_with_a_default_has_it_registered(registry: Registry) -> None:
    for kind in KINDS.values():
        if kind.default is not None:
            assert kind.default in registry.names(kind.name), kind.name


def test_parts_fill_every_slot_with_its_kinds_default(registry: Registry) -> None:
    parts = Parts(registry, pooling={"name": "avg"})
    assert parts.choices == {"convolution": {"name": "conv"}, "pooling": {"name": "avg"}, "activation": {"name": "relu"}, "normalization": {"name": "none"}}
    assert isinstance(parts.build("normalization", channels=3), nn.Identity)
    with pytest.raises(UnknownComponentError, match="unknown slot 'poolng'"):
        Parts(registry, poolng="max")


def test_load_object_names_a_module_attribute() -> None:
    assert load_object("cnnbench.kinds:KINDS") is KINDS
    with pytest.raises(ValueError, match="expected 'package.module:Name'"):
        load_object("cnnbench.kinds")


# --- normalization, the kind added as one declaration, one plugin module and its docs -----------------


@pytest.mark.parametrize(("name", "module"), [("batch_norm", nn.BatchNorm2d), ("group_norm", nn.GroupNorm), ("lrn", nn.LocalResponseNorm)])
def test_lenet5_and_alexnet_take_the_configured_normalization(registry: Registry, name: str, module: type) -> None:
    parts = Parts(registry, normalization={"name": name})
    for model in ("lenet5", "alexnet"):
        net = registry.create("model", model, parts=parts, in_channels=1, num_classes=10, image_size=32)
        assert sum(isinstance(m, module) for m in net.modules()) == 2, model
        assert net(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_lrn_is_alexnets_formula(registry: Registry) -> None:
    x = torch.randn(2, 7, 3, 3)
    lrn = registry.create("normalization", "lrn", channels=7)  # k = 2, n = 5, alpha = 1e-4, beta = 0.75
    squares = torch.nn.functional.pad(x.pow(2), (0, 0, 0, 0, 2, 2))
    window = torch.stack([squares[:, c : c + 5].sum(dim=1) for c in range(7)], dim=1)
    torch.testing.assert_close(lrn(x), x / (2 + 1e-4 * window) ** 0.75)


def test_batch_norm_standardises_each_channel_over_the_batch(registry: Registry) -> None:
    norm = registry.create("normalization", "batch_norm", channels=3).train()
    y = norm(torch.randn(8, 3, 4, 4) * 5 + 3)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0)


def test_group_norm_needs_groups_that_divide_the_channels(registry: Registry) -> None:
    with pytest.raises(InvalidHyperparameterError, match=r"^normalization 'group_norm': groups=4 must divide the channels of every stage, got a stage of 6$"):
        registry.create("normalization", {"name": "group_norm", "groups": 4}, channels=6)


# --- model=custom: any nn.Module from an import path, given the Parts ------------------------------------


class UserNet(nn.Module):
    """A user's network that builds its pooling from the parts and ignores the rest of the contract."""

    def __init__(self, parts: Parts, num_classes: int, image_size: int, hidden: int = 4) -> None:
        super().__init__()
        flat = hidden * (image_size // 2) ** 2
        self.body = nn.Sequential(nn.Conv2d(1, hidden, 3, padding=1), parts.pool(hidden), nn.Flatten(), nn.Linear(flat, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_custom_builds_the_target_with_the_parts_and_args(registry: Registry) -> None:
    node = {"name": "custom", "target": f"{__name__}:UserNet", "args": {"hidden": 6}}
    net = registry.create("model", node, parts=Parts(registry, pooling={"name": "avg"}), in_channels=1, num_classes=3, image_size=8)
    assert isinstance(net, UserNet) and net.body[0].out_channels == 6 and type(net.body[1]).__name__ == "AvgPool2d"


@pytest.mark.parametrize(
    ("target", "message"),
    [("nowhere.at.all:Net", "cannot be imported: ModuleNotFoundError"), ("torch:no_such_thing", "cannot be imported: AttributeError"), ("collections:OrderedDict", "built a OrderedDict, not a torch.nn.Module"), ("no_colon", "must be 'package.module:Class'")],
)
def test_custom_refuses_a_bad_target_in_one_line(registry: Registry, target: str, message: str) -> None:
    with pytest.raises(InvalidHyperparameterError, match=f"^model 'custom': .*{message}"):
        registry.create("model", {"name": "custom", "target": target}, parts=Parts(registry), in_channels=1, num_classes=3, image_size=8)


@pytest.mark.slow
def test_model_custom_runs_end_to_end(registry: Registry, tmp_path) -> None:
    cfg = compose_run_config(
        ["model=custom", f"model.target={__name__}:UserNet", "pooling=avg", "task.limit=120", "trainer.epochs=1", "trainer.progress=false", f"results.dir={tmp_path}"]
    )
    record, _ = execute(cfg, registry)
    assert record.status == "completed" and record.components["model"] == "custom"
