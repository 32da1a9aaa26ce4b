"""The run lifecycle hooks: a third-party plugin sees every run start, each epoch, and the end."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from cnnbench import hookimpl, hookspecs
from cnnbench.composition import compose_run_config
from cnnbench.plugins import PluginSource, load_registry
from cnnbench.training.execute import RunFailed, execute

LIFECYCLE = ("cnnbench_run_start", "cnnbench_epoch_end", "cnnbench_run_end")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "tracking.md"
FAST = ["task.limit=200", "trainer.epochs=3", "trainer.batch_size=50", "trainer.progress=false"]


class Spy:
    """Writes down what it is told, as a tracker would."""

    def __init__(self, fail_at_epoch: int | None = None) -> None:
        self.calls: list[tuple] = []
        self.fail_at_epoch = fail_at_epoch

    @hookimpl
    def cnnbench_run_start(self, record) -> None:
        self.calls.append(("start", record.run_id, record.status, dict(record.metrics)))

    @hookimpl
    def cnnbench_epoch_end(self, record, epoch) -> None:
        self.calls.append(("epoch", record.run_id, epoch["epoch"], sorted(epoch)))
        if epoch["epoch"] == self.fail_at_epoch:
            raise RuntimeError("tracker lost its connection")

    @hookimpl
    def cnnbench_run_end(self, record, path) -> None:
        self.calls.append(("end", record.run_id, record.status, Path(path).is_file(), "test" in record.metrics))


def _run(tmp_path: Path, spy: Spy):
    registry = load_registry(extra=[(PluginSource("spy", "spy-dist"), spy)])
    assert not registry.failures
    return execute(compose_run_config([*FAST, f"results.dir={tmp_path}"], registry), registry)


def test_a_plugin_sees_the_start_each_epoch_and_the_written_end(tmp_path: Path) -> None:
    spy = Spy()
    record, path = _run(tmp_path, spy)
    run = record.run_id
    assert spy.calls[0][:2] == ("start", run)
    assert spy.calls[0][3] == {}  # no results yet at the start
    assert [c[2] for c in spy.calls[1:-1]] == [1, 2, 3]
    assert all(c[3] == ["epoch", "epoch_s", "lr", "train_loss", "validation"] for c in spy.calls[1:-1])
    assert spy.calls[-1] == ("end", run, "completed", True, True)


def test_a_failing_epoch_hook_fails_the_run_and_the_end_hook_still_sees_the_record(tmp_path: Path) -> None:
    spy = Spy(fail_at_epoch=2)
    with pytest.raises(RunFailed, match="tracker lost its connection"):
        _run(tmp_path, spy)
    assert [c[0] for c in spy.calls] == ["start", "epoch", "epoch", "end"]
    assert spy.calls[-1][2:4] == ("failed", True)


def test_every_lifecycle_hook_and_parameter_is_typed_and_documented() -> None:
    docs = DOCS.read_text()
    for name in LIFECYCLE:
        spec = getattr(hookspecs, name)
        parameters = inspect.signature(spec).parameters
        assert f"`{name}(" in docs, f"{name} is not in {DOCS.name}"
        for parameter in parameters.values():
            assert parameter.annotation is not inspect.Parameter.empty, f"{name}({parameter.name}) has no type"
            assert f"`{parameter.name}`" in docs, f"{name}'s parameter {parameter.name} is not in {DOCS.name}"
        assert "Args:" in (spec.__doc__ or "")

