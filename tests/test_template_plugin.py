"""The plugin template, installed for real: discovered, conformant, a Hydra option, and listed by the CLI."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from cnnbench.composition import compose_run_config
from cnnbench.plugins import LoadedRegistry, default_registry, load_registry
from cnnbench.testing import MODULE_CHECKS, check_component

TEMPLATE = Path(__file__).resolve().parents[1] / "examples" / "plugin-template"
DISTRIBUTION = "cnnbench-swish"


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the template, so that building it leaves the repository clean."""
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    return Path(shutil.copytree(TEMPLATE, tmp_path_factory.mktemp("template") / "source", ignore=ignore))


@pytest.fixture(scope="session")
def site(source: Path) -> Path:
    """A folder the template is pip-installed into."""
    target = source.parent / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target)]
    installed = subprocess.run([*pip, str(source)], capture_output=True, text=True)
    assert installed.returncode == 0, f"pip install of the template failed:\n{installed.stderr}"
    return target


@pytest.fixture(scope="session")
def swish_registry(site: Path) -> LoadedRegistry:
    """The registry loaded while the template is importable, as if it were pip-installed beside cnnbench.

    The path goes away at once, so no other test (nor the cached default registry) sees the template.
    """
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        return load_registry()
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("cnnbench_swish", None)
        importlib.invalidate_caches()


def test_swish_is_discovered_from_its_distribution_and_conforms(swish_registry: LoadedRegistry) -> None:
    swish = swish_registry.get("activation", "swish")
    assert (swish.plugin, swish.distribution, swish.version) == ("swish", DISTRIBUTION, "0.1.0")
    assert dict(swish.defaults) == {"beta": 1.0}
    assert set(check_component(swish, swish_registry)) <= {"cuda: CUDA is not available"}


def test_swish_is_a_hydra_option_with_a_tunable_beta(swish_registry: LoadedRegistry) -> None:
    cfg = compose_run_config(["activation=swish", "activation.beta=2"], swish_registry)
    assert OmegaConf.to_container(cfg.activation) == {"name": "swish", "beta": 2}
    assert swish_registry.create("activation", cfg.activation, channels=3).beta == 2


def _with_site(site: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


def test_cli_lists_swish_with_its_distribution(site: Path) -> None:
    command = [sys.executable, "-m", "cnnbench.cli", "list", "activation", "--json"]
    listed = subprocess.run(command, env=_with_site(site), check=True, capture_output=True, text=True)
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["swish"]["distribution"] == DISTRIBUTION
    assert rows["swish"]["hyperparameters"] == {"beta": 1.0}
    assert "relu" in rows  # the built-ins still load beside it


def test_cli_runs_with_swish_and_records_its_beta_and_distribution(site: Path, tmp_path: Path) -> None:
    overrides = ["activation=swish", "activation.beta=2", "task.limit=120", "trainer.epochs=1", f"results.dir={tmp_path}"]
    ran = subprocess.run([sys.executable, "-m", "cnnbench.cli", "run", *overrides], env=_with_site(site), capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    [record] = [json.loads(path.read_text()) for path in (tmp_path / "runs").glob("*.json")]
    assert record["components"]["activation"] == "swish" and record["components"]["activation.beta"] == 2
    assert DISTRIBUTION in record["versions"]["plugins"]


def test_default_registry_does_not_see_the_template() -> None:
    assert "swish" not in default_registry().names("activation")


def test_the_templates_own_suite_passes_out_of_tree(source: Path, site: Path) -> None:
    """Its tests use the conformance kit through the pytest plugin, as any plugin author's suite would."""
    command = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "tests"]
    ran = subprocess.run(command, cwd=source, env=_with_site(site), capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout[-3000:]
    conformance = [line for line in ran.stdout.splitlines() if "::test_conformance[activation-swish-" in line]
    assert len(conformance) == len(MODULE_CHECKS), ran.stdout[-3000:]


def test_presets_shipped_by_the_plugin_are_options_of_run_and_sweep(site: Path) -> None:
    """The template's SearchPathPlugin puts its yaml presets on Hydra's search path, for both Hydra apps."""
    run = [sys.executable, "-m", "cnnbench.cli", "run", "activation=swish_steep", "--cfg", "job"]
    shown = subprocess.run(run, env=_with_site(site), capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert OmegaConf.create(shown.stdout).activation == {"name": "swish", "beta": 4.0}
    helped = subprocess.run([sys.executable, "-m", "cnnbench.cli", "sweep", "--help"], env=_with_site(site), capture_output=True, text=True)
    assert "swish_steep" in next(line for line in helped.stdout.splitlines() if line.startswith("activation:"))
