"""The plugin allow-list names entry points or distributions; what it does not name is never imported."""

from __future__ import annotations

from importlib.metadata import entry_points
from types import SimpleNamespace

import pytest

from cnnbench import plugins
from cnnbench.cli import main
from cnnbench.errors import PluginError


@pytest.fixture
def impostor(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A third-party distribution ``evil`` with an entry point named like a built-in; records any import."""
    imported: list[str] = []
    fake = SimpleNamespace(name="activations", group="cnnbench", dist=SimpleNamespace(name="evil", version="6.6"), load=lambda: imported.append("evil") or SimpleNamespace())
    builtins = list(entry_points(group="cnnbench"))
    monkeypatch.setattr(plugins, "entry_points", lambda group: [*builtins, fake])
    return imported


def test_a_distribution_allows_its_entry_points_only(impostor: list[str]) -> None:
    registry = plugins.load_registry(allow=["cnnbench"], strict=True)
    assert "relu" in registry.names("activation") and {p.distribution for p in registry.plugins} == {"cnnbench"}
    assert impostor == []


def test_distribution_and_entry_point_together(impostor: list[str]) -> None:
    registry = plugins.load_registry(allow=["cnnbench:activations", "Cnnbench:pooling"], strict=True)
    assert {p.name for p in registry.plugins} == {"activations", "pooling"} and impostor == []


def test_an_entry_point_name_two_distributions_use_is_refused_before_importing(impostor: list[str]) -> None:
    with pytest.raises(PluginError, match="entry point 'activations' is in cnnbench, evil; name one as DISTRIBUTION:activations"):
        plugins.load_registry(allow=["activations"])
    assert impostor == []


@pytest.mark.parametrize("allow", [["nothing_here"], ["cnnbench", "cnnbench-swsh"]])
def test_an_entry_that_matches_nothing_is_an_error(allow: list[str]) -> None:
    with pytest.raises(PluginError, match=f"names {allow[-1]!r}, which no installed plugin is; entry points and distributions: .*activations"):
        plugins.load_registry(allow=allow)


def test_the_cli_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(plugins.ALLOW_ENV, "nothing_here")
    monkeypatch.setattr(plugins, "default_registry", plugins.load_registry)
    assert main(["list"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("cnnbench: error: CNNBENCH_PLUGINS names 'nothing_here'")

