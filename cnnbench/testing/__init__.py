"""The conformance kit: the checks every component must pass, for built-in and third-party plugins alike.

>>> from cnnbench.plugins import default_registry
>>> from cnnbench.testing import check_component
>>> check_component(default_registry().get("convolution", "conv"))  # doctest: +SKIP
['cuda: CUDA is not available']

In a pytest suite, :func:`conformance_params` and the fixture ``cnnbench_check`` make one test per
component and check; see ``docs/plugins.md``.
"""

from __future__ import annotations

from cnnbench.testing.checks import MODULE_CHECKS, TASK_CHECKS, NotApplicable, check_component, checks_for, run_check
from cnnbench.testing.pytest_plugin import conformance_params

__all__ = [
    "MODULE_CHECKS",
    "TASK_CHECKS",
    "NotApplicable",
    "check_component",
    "checks_for",
    "conformance_params",
    "run_check",
]
