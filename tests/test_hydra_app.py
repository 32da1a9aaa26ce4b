"""``cnnbench run`` and ``cnnbench sweep`` are Hydra apps: Hydra's help, --cfg, --info, completion, user presets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import FAST
from omegaconf import OmegaConf

from cnnbench.cli import main
from cnnbench.plugins import default_registry


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def _group_line(help_text: str, group: str) -> list[str]:
    line = next(line for line in help_text.splitlines() if line.startswith(f"{group}: "))
    return line.removeprefix(f"{group}: ").split(", ")


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_help_is_hydras_app_help_with_every_registered_option(capsys: pytest.CaptureFixture[str], command: str) -> None:
    text = _out(capsys, command, "--help")
    assert text.startswith(f"cnnbench {command}:") and "== Configuration groups ==" in text
    for group in ("activation", "pooling", "loss", "model", "task", "convolution"):
        assert _group_line(text, group) == default_registry().names(group)
    assert "ablation_lenet" in _group_line(text, "experiment") and "exit status: 0 done, 2 bad input" in text


def test_cfg_job_hydra_and_all(capsys: pytest.CaptureFixture[str]) -> None:
    job = OmegaConf.create(_out(capsys, "run", "--cfg", "job", "pooling=mixed", "pooling.lam=0.3"))
    assert job.pooling == {"name": "mixed", "lam": 0.3} and "hydra" not in job
    assert "hydra" in OmegaConf.create(_out(capsys, "run", "--cfg", "hydra"))
    assert {"hydra", "trainer"} <= set(OmegaConf.create(_out(capsys, "run", "--cfg", "all")))


def test_sweep_cfg_job_prints_the_sweeps_config(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = OmegaConf.create(_out(capsys, "sweep", "--cfg", "job", "sweep=mixed_lambda"))
    assert cfg.sweep.params.pooling.lam.type == "float" and cfg.pooling.name == "mixed"


def test_cfg_job_masks_the_credentials_of_a_storage_url(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://bob:hunter2@db:5432/optuna?password=hunter2&sslmode=require"
    assert main(["sweep", "--cfg", "job", f"sweep.storage='{url}'"]) == 0
    shown = capsys.readouterr().out
    assert "storage: postgresql://***@db:5432/optuna?password=***&sslmode=require" in shown and "hunter2" not in shown


def test_info_prints_each_section_once(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("run", "sweep"):
        assert main([command, "--info"]) == 0
        captured = capsys.readouterr()
        assert (captured.out + captured.err).count("Installed Hydra Plugins") == 1


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("cnnbench run pooling=mi", {"pooling=mixed", "pooling=mixed_learned", "pooling=mixed_random"}),
        ("cnnbench sweep sweep=mixed_l", {"sweep=mixed_lambda"}),
        ("cnnbench r", {"run", "report"}),
    ],
)
def test_shell_completion_query_routes_to_the_subcommand(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, line: str, expected: set[str]
) -> None:
    monkeypatch.setenv("COMP_LINE", line)
    assert set(_out(capsys, "-sc", "query=bash").split()) == expected


def test_shell_completion_install_completes_the_cnnbench_program(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["/usr/bin/cnnbench", "run", "-sc", "install=bash"])
    script = _out(capsys, "run", "-sc", "install=bash")
    assert script.rstrip().endswith("-F hydra_bash_completion cnnbench")


@pytest.fixture
def presets(tmp_path: Path) -> Path:
    folder = tmp_path / "presets"
    (folder / "pooling").mkdir(parents=True)
    (folder / "pooling" / "mixed03.yaml").write_text("name: mixed\nlam: 0.3\n")
    (folder / "activation").mkdir()
    (folder / "activation" / "gentle.yaml").write_text("name: leaky_relu\nnegative_slope: 0.2\n")
    (folder / "experiment").mkdir()
    (folder / "experiment" / "short.yaml").write_text("# @package _global_\ntrainer:\n  epochs: 1\n")
    (folder / "sweep").mkdir()
    (folder / "sweep" / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /pooling: mixed03\nsweep:\n  params:\n    pooling:\n      lam: {type: float, low: 0.2, high: 0.4}\n"
    )
    return folder


def test_user_presets_of_any_group_and_experiments_from_config_dir(capsys: pytest.CaptureFixture[str], presets: Path) -> None:
    cfg = OmegaConf.create(_out(capsys, "run", f"--config-dir={presets}", "pooling=mixed03", "activation=gentle", "experiment=short", "--cfg", "job"))
    assert cfg.pooling == {"name": "mixed", "lam": 0.3} and cfg.activation.negative_slope == 0.2 and cfg.trainer.epochs == 1
    sweep = OmegaConf.create(_out(capsys, "sweep", "--config-dir", str(presets), "sweep=mine", "--cfg", "job"))
    assert sweep.pooling.lam == 0.3 and sweep.sweep.params.pooling.lam.high == 0.4
    assert "mixed03" in _group_line(_out(capsys, "run", "--config-dir", str(presets), "--help"), "pooling")


@pytest.mark.slow
def test_run_and_sweep_with_user_presets_train_what_they_say(capsys: pytest.CaptureFixture[str], presets: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert main(["run", "--config-dir", str(presets), "pooling=mixed03", *FAST, f"results.dir={results}"]) == 0
    [record] = [json.loads(p.read_text()) for p in (results / "runs").glob("*.json")]
    assert record["components"]["pooling.lam"] == 0.3
    status = main(["sweep", "--config-dir", str(presets), "sweep=mine", "sweep.trials=1", "sweep.workers=2", *FAST, f"results.dir={tmp_path / 'swept'}"])
    assert status == 0, capsys.readouterr().err
    trials = [json.loads(p.read_text()) for p in (tmp_path / "swept" / "runs").glob("*.json")]
    assert len(trials) == 1 and 0.2 <= trials[0]["components"]["pooling.lam"] <= 0.4


def test_missing_config_dir_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", "--config-dir", str(tmp_path / "nope"), "pooling=max"]) == 2
    assert capsys.readouterr().err.strip() == f"cnnbench: error: --config-dir {tmp_path / 'nope'}: no such folder; give a folder of presets such as DIR/pooling/NAME.yaml"
