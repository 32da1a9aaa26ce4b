"""The pieces a report is made of, shared by its Markdown and HTML renderings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Plot:
    """One figure: its file stem, a caption, and the PNG."""

    name: str
    title: str
    png: bytes


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    """Rows of display text; ``links`` maps a column index to one target per row (``None``: no link),
    a path relative to the report's folder such as a run's record file."""

    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    css: str = ""
    links: dict[int, list[str | None]] = field(default_factory=dict)

    def link(self, row: int, column: int) -> str | None:
        return self.links[column][row] if column in self.links else None


@dataclass(frozen=True)
class Image:
    plot: Plot


Block = Heading | Paragraph | Table | Image
