"""``cnnbench list``: every registered component, where it came from, and its hyperparameters.

On a terminal the rows are fitted to its width; piped, each component is one plain line (kind, name,
plugin, hyperparameters, summary), so ``cnnbench list | grep mixed`` finds it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any

from cnnbench.registry import KINDS, Registry

COLUMNS = ("kind", "name", "plugin", "hyperparameters")
#: hyperparameter text beyond this width wraps (terminal) or pushes the summary right (pipe)
HYPERPARAMETERS_WIDTH = 36
#: on a terminal wider than the table needs, the summary keeps this much before hyperparameters grow
SUMMARY_ROOM = 80


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


def _value(value: Any) -> str:
    """A default as one writes it in an override: ``0.333333`` rather than 17 digits."""
    return format(value, ".6g") if isinstance(value, float) else str(value)


def cells(row: dict[str, Any]) -> list[str]:
    """The displayed cells of a row, in :data:`COLUMNS` order, then the summary."""
    plugin = row["plugin"] if row["distribution"] in ("cnnbench", "?") else f"{row['plugin']} ({row['distribution']})"
    hyperparameters = " ".join(f"{k}={_value(v)}" for k, v in row["hyperparameters"].items())
    return [row["kind"], row["name"], plugin, hyperparameters, row["summary"]]


def lines(listed: Sequence[dict[str, Any]], width: int | None = None) -> Iterator[str]:
    """A header, then each component: kind, name and plugin whole and lined up, then its hyperparameters
    and summary. With ``width`` (a terminal) long hyperparameters wrap and the summary is cut to fit, or
    left out; without (a pipe) every component is exactly one line, never cut."""
    table = [[*COLUMNS, "summary"], *map(cells, listed)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS) - 1)]
    indent = sum(widths) + 2 * len(widths)
    longest = max(len(line[3]) for line in table)
    room = min(longest, HYPERPARAMETERS_WIDTH)
    if width is not None:  # a wide terminal gives the hyperparameters what the summary does not need
        room = max(12, min(longest, max(room, width - indent - 2 - SUMMARY_ROOM), width - indent))
    summary_room = None if width is None else width - indent - room - 2
    for line in table:
        lead = "  ".join(cell.ljust(w) for cell, w in zip(line, widths))
        wrapped = textwrap.wrap(line[3], room, break_on_hyphens=False) if width is not None else [line[3]]
        wrapped = wrapped or [""]
        summary = line[4] if summary_room is None else _cut(line[4], summary_room)
        yield f"{lead}  {wrapped[0].ljust(room)}  {summary}".rstrip()
        yield from (f"{'':{indent}}{more}" for more in wrapped[1:])


def _cut(text: str, room: int) -> str:
    """``text`` in ``room`` characters, an ellipsis marking a cut; nothing when there is no room for a word."""
    if room < 16:
        return ""
    return text if len(text) <= room else text[: room - 1].rstrip() + "…"


def main(args: argparse.Namespace) -> int:
    from cnnbench.plugins import default_registry

    registry = default_registry()
    listed = rows(registry, args.kind)
    try:
        if args.json:
            json.dump(listed, sys.stdout, indent=2, default=repr)
            print()
        else:
            width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
            print("\n".join(lines(listed, width)))
        sys.stdout.flush()
    except BrokenPipeError:  # `cnnbench list | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush is silent too
    return 0  # a plugin that failed to load was named on stderr once, as the registry loaded
