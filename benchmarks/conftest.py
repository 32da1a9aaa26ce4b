"""Options of the pytest-benchmark suite: the map shape, device, dtype and CPU threads the components are timed on."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cnnbench", "cnnbench component benchmarks")
    group.addoption("--bench-shape", default="128,6,28,28", help="N,C,H,W of the input map (default: LeNet-5's 128,6,28,28)")
    group.addoption("--bench-device", default="auto", help="auto, cpu or cuda (default: auto)")
    group.addoption("--bench-dtype", default="float32", choices=("float32", "bfloat16"))
    group.addoption("--bench-threads", type=int, default=1, help="torch CPU threads (default: 1, as `cnnbench bench` and the trainer)")
