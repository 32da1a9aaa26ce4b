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
    console = Console(width=None if sys.stdout.isatty() else 200)
    with_summary = console.width >= 120  # on a narrow terminal the summary would squeeze the rest
    cells = [
        [row["kind"], row["name"], f"{row['plugin']} ({row['distribution']})", ", ".join(f"{k}={v!r}" for k, v in row["hyperparameters"].items())]
        for row in listed
    ]
    table = Table(box=None)
    for index, header in enumerate(("kind", "name", "plugin", "hyperparameters")):
        table.add_column(header, no_wrap=True, min_width=max([len(header)] + [len(c[index]) for c in cells]))
    if with_summary:
        table.add_column("summary", no_wrap=True, overflow="ellipsis")
    for row, cell in zip(listed, cells, strict=True):
        table.add_row(*cell, *([row["summary"]] if with_summary else []))
    console.print(table)
    for failure in registry.failures:
        console.print(f"[yellow]warning:[/] {failure}", highlight=False)
    return 0
