"""Reports of a run: a self-contained HTML page, Markdown and JSON.

Every report is drawn from a ``StoredRun`` (its record and its
``Evaluation``) alone and is deterministic: the same run renders to the same
bytes, so a report can be regenerated from the run store at any time.

* ``render_html`` — one offline HTML file: inline CSS and SVG figures, no
  script, no external resource (``tokbt.report.html``);
* ``render_markdown`` and ``render_json`` — text for CI logs, notebooks and
  other programs (``tokbt.report.text``);
* ``write_report`` — render and write one of them, the format taken from the
  file suffix.

Layering: this package imports ``tokbt.metrics`` and ``tokbt.runs`` (and
lower rooms); only the CLI imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from tokbt.report.html import render_html
from tokbt.report.text import render_json, render_markdown
from tokbt.runs.stored import StoredRun

ReportFormat = Literal["html", "md", "json"]
"""The report formats."""

SUFFIXES: dict[str, ReportFormat] = {
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".json": "json",
}
"""File suffixes (lower case) and the format each stands for."""

__all__ = [
    "SUFFIXES",
    "ReportFormat",
    "render_html",
    "render_json",
    "render_markdown",
    "report_format",
    "write_report",
]


def report_format(out: str | Path, fmt: str | None = None) -> ReportFormat:
    """The format to write ``out`` in: ``fmt`` if given, else the one its suffix names.

    Raises ``ValueError`` for an unknown ``fmt`` or, without ``fmt``, a suffix
    that is not one of ``SUFFIXES``.
    """
    if fmt is not None:
        if fmt not in get_args(ReportFormat):
            raise ValueError(f"unknown report format {fmt!r}; use one of html, md, json")
        return fmt  # type: ignore[return-value]
    suffix = Path(out).suffix.lower()
    if suffix not in SUFFIXES:
        known = ", ".join(SUFFIXES)
        raise ValueError(
            f"cannot tell the report format from the suffix {suffix or '(none)'!r} of "
            f"{str(out)!r}; use one of {known} or pass fmt='html', 'md' or 'json'"
        )
    return SUFFIXES[suffix]


def write_report(run: StoredRun, out: str | Path, fmt: ReportFormat | None = None) -> Path:
    """Render ``run`` and write it to ``out`` (UTF-8, ``\\n`` line ends); return the path.

    The format is ``fmt``, or taken from the suffix of ``out`` (``.html``/``.htm``,
    ``.md``/``.markdown``, ``.json``); an unknown suffix raises ``ValueError``
    before anything is written. Parent directories are created; an existing
    file is replaced.
    """
    kind = report_format(out, fmt)
    render = {"html": render_html, "md": render_markdown, "json": render_json}[kind]
    text = render(run)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path
