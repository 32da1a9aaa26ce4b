"""``cnnbench list``: every registered component, where it came from, and its hyperparameters."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cnnbench.registry import KINDS, Registry


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", choices=list(KINDS), help="only this kind")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def rows(registry: Registry, kind: str | None = None) -> list[dict[str, Any]]:
    """One row per component: kind, name, plugin, distribution, version, defaults, summary."""
    return [
        {
            "kind": c.kind,
            "name": c.name,
            "plugin": c.plugin,
            "distribution": c.distribution,
            "version": c.version,
            "hyperparameters": dict(c.defaults),
            "summary": c.summary,
        }
        for c in registry.components(kind)
    ]


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from cnnbench.plugins import default_registry

    registry = default_registry()
    listed = rows(registry, args.kind)
    if args.json:
        json.dump(listed, sys.stdout, indent=2, default=repr)
        print()
        return 0
    table = Table("kind", "name", "plugin", "hyperparameters (defaults)", "summary", box=None)
    for row in listed:
        params = ", ".join(f"{k}={v!r}" for k, v in row["hyperparameters"].items())
        table.add_row(row["kind"], row["name"], f"{row['distribution']}:{row['plugin']}", params, row["summary"])
    console = Console()
    console.print(table)
    for failure in registry.failures:
        console.print(f"[yellow]warning:[/] {failure}", highlight=False)
    return 0
