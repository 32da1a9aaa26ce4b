"""Where and with what a run ran: versions, git commit, host."""

from __future__ import annotations

import platform
import socket
import subprocess
from functools import cache
from typing import Any

import torch

import cnnbench
from cnnbench.plugins import LoadedRegistry


@cache
def git_commit() -> str | None:
    """The commit of the working directory's repository, if any (the experiment's code, not cnnbench's)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions(registry: LoadedRegistry) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cnnbench": cnnbench.__version__,
        "plugins": {source.distribution: source.version for source in registry.plugins},
    }


def host() -> str:
    return socket.gethostname()
