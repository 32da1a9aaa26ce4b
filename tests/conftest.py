"""Shared fixtures: the registry of the installed plugins, and deterministic torch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from cnnbench.data import clear_cache
from cnnbench.plugins import default_registry
from cnnbench.registry import Registry

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CNNBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The installed plugins' registry."""
    return default_registry()


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _fresh_datasets() -> None:
    """Tests rewrite files under one root; the process-wide dataset cache must not hand back the old ones."""
    clear_cache()
