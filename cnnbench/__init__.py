"""cnnbench: benchmark and ablate the building blocks of convolutional networks.

Plugin authors write ``from cnnbench import hookimpl``; see ``docs/plugins.md``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from cnnbench.hookspecs import hookimpl

try:
    __version__ = version("cnnbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["hookimpl", "__version__"]
