"""``import cnnbench``: a small, documented, typed public surface that costs no torch import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cnnbench


def test_every_public_name_resolves_and_has_a_docstring() -> None:
    for name in cnnbench.__all__:
        value = getattr(cnnbench, name)
        assert name == "__version__" or name == "KINDS" or (value.__doc__ or "").strip(), name
    assert set(cnnbench.__all__) <= set(dir(cnnbench))
    assert set(cnnbench.__all__) == {"__version__", "hookimpl", *cnnbench._EXPORTS}


def test_import_cnnbench_does_not_import_torch() -> None:
    code = "import sys, cnnbench; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_the_package_is_marked_typed() -> None:
    assert (Path(cnnbench.__file__).parent / "py.typed").is_file()
