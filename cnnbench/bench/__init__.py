"""Component timing against PyTorch built-ins (`cnnbench bench`); see ``docs/performance.md``."""

from cnnbench.kinds import BENCH_KINDS as KINDS

__all__ = ["KINDS"]
