"""The report as one self-contained HTML page: inline CSS and script, plots embedded, nothing fetched.

Tables sort by a click on a header (numbers as numbers, missing values last either way) and filter by
the text typed above them; wide tables scroll sideways in their own box rather than being cut. The
script also reads the page's fragment, ``#sort=t2:3`` (click the fourth header of the second table;
``:desc`` clicks twice) and ``#filter=t2:mixed``, so a link can open the page sorted and filtered, and a
headless browser can check the sorting without driving clicks. Every string is HTML-escaped: record
contents are data, and a component named ``<script>`` shows as text.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from cnnbench.report.blocks import Block, Heading, Image, Paragraph, Table

TITLE = "cnnbench report"
#: a table with at least this many rows gets a filter box
FILTER_ROWS = 8

STYLE = """
:root { --rule: #1f2328; --hair: #d8dee4; --muted: #57606a; --accent: #0b5cad; }
body { font: 16px/1.5 Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, serif; color: #1f2328;
       margin: 2.5rem auto; max-width: 1320px; padding: 0 1.5rem; }
h1, h2, h3 { font-family: system-ui, -apple-system, "Segoe UI", "Helvetica Neue", Arial, sans-serif; line-height: 1.25; }
h1 { font-size: 1.9rem; margin: 0 0 .6rem; }
h2 { font-size: 1.35rem; margin: 2.6rem 0 .6rem; padding-bottom: .25rem; border-bottom: 1px solid var(--hair); }
h3 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; }
p { margin: .45rem 0; max-width: 75ch; }
a { color: var(--accent); }
.table-wrap { overflow-x: auto; margin: .5rem 0 1.4rem; max-width: 100%; }
table { border-collapse: collapse; font: 13px/1.35 system-ui, -apple-system, "Segoe UI", "Helvetica Neue", Arial, sans-serif;
        border-top: 2px solid var(--rule); border-bottom: 2px solid var(--rule); }
th, td { padding: .28rem .7rem; text-align: left; white-space: nowrap; }
thead th { border-bottom: 1px solid var(--rule); font-weight: 600; cursor: pointer; user-select: none; position: relative; padding-right: 1.2rem; }
thead th::after { content: "\\2195"; position: absolute; right: .3rem; color: #b0b7bf; font-size: .8em; }
thead th[aria-sort="ascending"]::after { content: "\\25B2"; color: var(--rule); }
thead th[aria-sort="descending"]::after { content: "\\25BC"; color: var(--rule); }
thead th:focus-visible { outline: 2px solid var(--accent); }
tbody tr:nth-child(even) td { background: #f6f8fa; }
tbody tr:hover td { background: #eef4fb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.leaderboard tbody tr:first-child td { font-weight: 600; }
.tools { font: 13px system-ui, sans-serif; color: var(--muted); margin-top: .6rem; display: flex; gap: .8rem; align-items: center; }
.tools input { font: inherit; padding: .2rem .45rem; border: 1px solid var(--hair); border-radius: 4px; min-width: 16rem; }
figure { margin: 1.2rem 0 1.8rem; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: .9rem; color: var(--muted); margin-top: .35rem; max-width: 75ch; }
figcaption b { color: #1f2328; }
@media print { .tools { display: none; } thead th::after { content: none; } .table-wrap { overflow: visible; } }
"""

SCRIPT = """
(function () {
  "use strict";
  var MISSING = "\\u2013";
  function sortKey(cell, numeric) {
    var text = cell.textContent.trim();
    if (text === "" || text === MISSING) return null;
    if (!numeric) return text.toLowerCase();
    var found = text.match(/[-+]?(\\d+\\.?\\d*|\\.\\d+)(e[-+]?\\d+)?/i);
    return found ? parseFloat(found[0]) : null;
  }
  function sortBy(table, column) {
    var header = table.tHead.rows[0].cells[column];
    var numeric = header.classList.contains("num");
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) { cell.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.map.call(body.rows, function (row, index) { return [sortKey(row.cells[column], numeric), index, row]; });
    rows.sort(function (a, b) {
      if (a[0] === null || b[0] === null) return (a[0] === null) - (b[0] === null) || a[1] - b[1];
      var order = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
      return (ascending ? order : -order) || a[1] - b[1];
    });
    rows.forEach(function (entry) { body.appendChild(entry[2]); });
  }
  function filterRows(table, text) {
    var wanted = text.trim().toLowerCase(), shown = 0, rows = table.tBodies[0].rows;
    Array.prototype.forEach.call(rows, function (row) {
      row.hidden = wanted !== "" && row.textContent.toLowerCase().indexOf(wanted) < 0;
      shown += row.hidden ? 0 : 1;
    });
    var count = document.querySelector('[data-count="' + table.id + '"]');
    if (count) count.textContent = shown + " of " + rows.length + " rows";
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.tabIndex = 0;
      header.title = "sort by " + header.textContent;
      header.addEventListener("click", function () { sortBy(table, column); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, column); }
      });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("input[data-filter]"), function (input) {
    var table = document.getElementById(input.getAttribute("data-filter"));
    input.addEventListener("input", function () { filterRows(table, input.value); });
  });
  decodeURIComponent(location.hash.slice(1)).split("&").forEach(function (part) {
    var found = part.match(/^(sort|filter)=([^:]+):(.*)$/);
    var table = found && document.getElementById(found[2]);
    if (!table) return;
    if (found[1] === "filter") {
      var input = document.querySelector('input[data-filter="' + found[2] + '"]');
      if (input) input.value = found[3];
      filterRows(table, found[3]);
      return;
    }
    var spec = found[3].split(":"), header = table.tHead.rows[0].cells[parseInt(spec[0], 10)];
    if (!header) return;
    header.click();
    if (spec[1] === "desc") header.click();
  });
})();
"""


def _cell(text: str, link: str | None) -> str:
    shown = html.escape(text)
    return f'<a href="{html.escape(link)}">{shown}</a>' if link else shown


def table_html(block: Table, table_id: str) -> str:
    """A sortable table in its scrolling box, with a filter box above it when it is long."""
    numeric = [' class="num"' if is_numeric else "" for is_numeric in block.numeric]
    head = "".join(f"<th{css}>{html.escape(cell)}</th>" for css, cell in zip(numeric, block.header))
    columns = []  # column by column: a column's cells share their markup, and repeated values are escaped once
    for c, (css, cells) in enumerate(zip(numeric, zip(*block.rows))):
        links = block.links.get(c)
        if links is None:
            escaped: dict[str, str] = {}
            columns.append([escaped.get(cell) or escaped.setdefault(cell, f"<td{css}>{html.escape(cell)}</td>") for cell in cells])
        else:
            columns.append([f"<td{css}>{_cell(cell, link)}</td>" for cell, link in zip(cells, links)])
    rows = "".join(f"<tr>{''.join(cells)}</tr>\n" for cells in zip(*columns))
    tools = ""
    if len(block.rows) >= FILTER_ROWS:
        tools = (
            f'<div class="tools"><input type="search" placeholder="filter rows" aria-label="filter rows" data-filter="{table_id}">'
            f'<span data-count="{table_id}">{len(block.rows)} of {len(block.rows)} rows</span></div>\n'
        )
    classes = html.escape(" ".join(filter(None, ["sortable", block.css])))
    return f'{tools}<div class="table-wrap"><table id="{table_id}" class="{classes}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table></div>'


def figure_html(block: Image, number: int) -> str:
    data = base64.b64encode(block.plot.png).decode("ascii")
    title = html.escape(block.plot.title)
    return (
        f'<figure id="{html.escape(block.plot.name)}"><img alt="{title}" src="data:image/png;base64,{data}">'
        f"<figcaption><b>Figure {number}.</b> {title}</figcaption></figure>"
    )


def html_page(blocks: Sequence[Block], title: str = TITLE) -> str:
    """The page: tables numbered ``t1``, ``t2``, ... in reading order (the ids the fragment names)."""
    body, tables, figures = [], 0, 0
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            tables += 1
            body.append(table_html(block, f"t{tables}"))
        else:
            figures += 1
            body.append(figure_html(block, figures))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(body) + f"\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
