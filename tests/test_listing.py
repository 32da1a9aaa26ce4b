"""``cnnbench list``: one row per component, readable on a narrow terminal and greppable when piped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import cnnbench
from cnnbench.listing import lines, rows
from cnnbench.plugins import default_registry
from cnnbench.registry import KINDS


@pytest.fixture(scope="module")
def listed() -> list[dict]:
    return rows(default_registry())


def test_piped_every_component_is_one_line_with_kind_name_plugin_and_hyperparameters(tmp_path: Path) -> None:
    out = cnnbench("list", cwd=tmp_path).stdout.splitlines()
    assert out[0].split()[:4] == ["kind", "name", "plugin", "hyperparameters"]
    mixed = [line for line in out if "mixed" in line]  # what `cnnbench list | grep mixed` sees
    assert [line.split()[:4] for line in mixed if line.split()[1] == "mixed"] == [["pooling", "mixed", "pooling", "lam=0.5"]]
    assert {line.split()[0] for line in out[1:]} == {kind for kind in KINDS if default_registry().names(kind)}  # every kind it has
    assert len(out) == 1 + len(rows(default_registry()))  # nothing wrapped onto a second line


@pytest.mark.parametrize("width", [80, 120, 250])
def test_on_a_terminal_lines_fit_and_keep_kind_name_and_plugin(listed: list[dict], width: int) -> None:
    shown = list(lines(listed, width))
    assert max(map(len, shown)) <= width
    firsts = [line for line in shown if not line.startswith(" ")]
    assert len(firsts) == 1 + len(listed)
    for row, line in zip(listed, firsts[1:], strict=True):
        assert line.split()[:3] == [row["kind"], row["name"], row["plugin"]]
    rrelu = next(line for line in firsts if line.split()[1] == "rrelu")
    assert "upper=0.333333 " in rrelu + " "  # six significant digits, not seventeen


def test_a_long_hyperparameter_list_wraps_under_its_column_at_80_columns(listed: list[dict]) -> None:
    shown = list(lines(listed, 80))
    start = next(i for i, line in enumerate(shown) if line.split()[:2] == ["task", "detection"])
    column = shown[0].index("hyperparameters")
    continued = []
    for line in shown[start + 1 :]:
        if not line.startswith(" "):
            break
        continued.append(line)
    assert continued and all(len(line) - len(line.lstrip()) == column for line in continued)
    assert "eval_batch_size=1024" in " ".join(shown[start:start + 1 + len(continued)])


def test_summary_shows_only_where_it_has_room(listed: list[dict]) -> None:
    assert "summary" not in next(lines(listed, 80))
    assert "summary" in next(lines(listed, 120))


def test_json_into_a_closed_pipe_is_not_an_error() -> None:
    reader, writer = os.pipe()
    os.close(reader)  # the consumer went away before the first byte, like `| head -0`
    done = subprocess.run([sys.executable, "-m", "cnnbench.cli", "list", "--json"], stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60)
    os.close(writer)
    assert done.returncode == 0
    assert done.stderr == ""


def test_json_lists_every_component(tmp_path: Path, listed: list[dict]) -> None:
    parsed = json.loads(cnnbench("list", "--json", cwd=tmp_path).stdout)
    assert [(r["kind"], r["name"]) for r in parsed] == [(r["kind"], r["name"]) for r in listed]
