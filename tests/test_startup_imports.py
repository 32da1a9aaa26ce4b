"""Start-up cost: the commands that only print must not pay for the libraries that only others use.

Importing pandas, scipy, Optuna, matplotlib or Hydra costs 0.3-1 s each on the development machine, as
much as the rest of `cnnbench list` together (docs/performance.md); a module-level import anywhere on the
registry's path (a plugin, a data loader) brings one back, and this test names it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("hydra", "matplotlib", "omegaconf", "optuna", "pandas", "pyarrow", "scipy", "sklearn", "torch")

#: runs the CLI in a fresh interpreter, then reports which of HEAVY it imported (after its own output)
SCRIPT = f"""
import json, sys
from cnnbench.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({{name.partition(".")[0] for name in sys.modules}} & set({list(HEAVY)!r}))))
"""


def run_cli(*argv: str) -> tuple[str, list[str]]:
    """What ``cnnbench *argv`` printed, and the heavy packages its process imported."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, *argv], capture_output=True, text=True, timeout=120, check=True)
    *printed, imported = done.stdout.strip().splitlines()
    return "\n".join(printed), json.loads(imported)


def test_help_imports_none_of_them_not_even_torch():
    printed, imported = run_cli("--help")
    assert "usage: cnnbench" in printed and imported == []


@pytest.mark.parametrize(("argv", "shown"), [(("list",), "negative_slope=0.01"), (("list", "pooling"), "p_max=0.5")])
def test_list_imports_torch_for_the_registry_and_nothing_heavier(argv, shown):
    printed, imported = run_cli(*argv)
    assert shown in printed  # the registry was really loaded, plugins and tasks included
    assert imported == ["torch"]
