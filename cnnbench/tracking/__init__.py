"""Experiment trackers: the ``logger`` config group's CSV, TensorBoard and MLflow writers.

Each is a plugin of the run lifecycle hooks (:mod:`cnnbench.hookspecs`), registered through the
``cnnbench`` entry-point group like any third-party plugin, and acts only when its name is among the
run's ``logger`` choices. :mod:`cnnbench.tracking.series` names the numbers all three write, so a
curve reads the same in each. See ``docs/tracking.md``.
"""
