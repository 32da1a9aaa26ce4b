"""Hydra's basic sweeper without a second composition of every job in the parent: ``hydra/sweeper: cnnbench``.

Hydra's ``BasicSweeper`` composes each job of a batch in the parent before launching it
(``validate_batch_is_legal``), and the launcher composes it again where it runs: on the 60-run ablation
that is 60 serial compositions (0.15-0.25 s each) before the first job starts (issue 14.2,
``benchmarks/multirun_overhead.py``). ``cnnbench run`` has already composed and checked the first job and
every value of every swept key before Hydra starts (:mod:`cnnbench.app`), and checks each job again
before it trains, so the parent's second composition only adds time. The class must live under
``hydra_plugins``: Hydra instantiates sweepers from there only.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class CheckedSweeper(BasicSweeper):
    """The basic sweeper (same ``params`` and ``max_batch_size``) for jobs cnnbench has checked itself."""

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Nothing: each job is composed and checked once, where it runs."""
