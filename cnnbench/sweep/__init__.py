"""Optuna sweeps over the Hydra-composed benchmark (``cnnbench sweep``; see ``docs/sweeps.md``).

- :mod:`~cnnbench.sweep.app`: the command; :mod:`~cnnbench.sweep.setup`: the checked sweep, from overrides
- :mod:`~cnnbench.sweep.space`: search spaces and objectives; :mod:`~cnnbench.sweep.strategy`: samplers, pruners
- :mod:`~cnnbench.sweep.compose`: trial configs; :mod:`~cnnbench.sweep.objective`: one trial, once per seed
- :mod:`~cnnbench.sweep.storage`: journal file or database, heartbeat; :mod:`~cnnbench.sweep.study`: the study
- :mod:`~cnnbench.sweep.accounting`: exact trial slots; :mod:`~cnnbench.sweep.worker`: the worker loop, processes
- :mod:`~cnnbench.sweep.progress`: the live line; :mod:`~cnnbench.sweep.report`, :mod:`~cnnbench.sweep.reproduce`: the end
"""
