"""`finrep validate`: check a data folder and list every problem, grouped by file and rule.

Text output is one table per file (rule, severity, row, column, value, message; the first
`validate.max_rows_per_rule` rows per rule and column, then ``+X more``) and a summary line;
``--format json`` prints the findings as a list of ``{file, rule, severity, row, column, value,
message}``. Exit code 0 when there are no errors (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import json
import re
import sys
from itertools import groupby
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from finrep.cli.options import DataOpt
from finrep.cli.state import State, console_out

NAME = "validate"
FORMATS = ("text", "json")


def _short_message(finding) -> str:  # type: ignore[no-untyped-def]
    """The message without the ``file row N:`` prefix the table already shows."""
    message = finding.message
    for prefix in (f"{finding.file} row {finding.row}: ", f"{finding.file}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


_MORE = re.compile(r"^\+([\d,]+) more$")


def _totals(findings, severity: str) -> int:  # type: ignore[no-untyped-def]
    """Problems of one severity, counting the rows behind each ``+X more`` line."""
    total = 0
    for f in findings:
        if f.severity == severity:
            more = _MORE.match(f.message)
            total += int(more.group(1).replace(",", "")) if more else 1
    return total


def render_text(findings, data_dir: str) -> list:  # type: ignore[no-untyped-def]
    """Rich renderables: one table per file, then a summary line."""
    out: list = []
    for file, group in groupby(findings, key=lambda f: f.file):
        table = Table(title=escape(file), title_justify="left", expand=False)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Severity", no_wrap=True)
        table.add_column("Row", justify="right", no_wrap=True)
        table.add_column("Column", overflow="fold")
        table.add_column("Value", overflow="fold", max_width=24)
        table.add_column("Message", overflow="fold")
        previous = None
        for f in group:
            colour = "red" if f.severity == "error" else "yellow"
            table.add_row(
                escape(f.rule) if f.rule != previous else "",
                f"[{colour}]{f.severity}[/]" if f.rule != previous else "",
                "" if f.row is None else str(f.row),
                escape(f.column or ""),
                escape(f.value or ""),
                escape(_short_message(f)),
            )
            previous = f.rule
        out.append(table)
    errors, warnings = _totals(findings, "error"), _totals(findings, "warning")
    if not findings:
        out.append(f"[green]No problems found[/] in {escape(data_dir)}.")
    else:
        files = len({f.file.split("/")[0] for f in findings})
        verdict = "[red]Errors found[/]" if errors else "[yellow]Warnings only[/]"
        out.append(
            f"{verdict}: {errors:,} error(s) and {warnings:,} warning(s) in {files} file(s) of "
            f"{escape(data_dir)}."
        )
    return out


def command(
    ctx: typer.Context,
    data: DataOpt = None,
    format: Annotated[
        str, typer.Option("--format", help="Output: text or json.", case_sensitive=False)
    ] = "text",
) -> None:
    """Check a data folder: list every problem by file and rule (exit 1 on errors).

    Reads the nine tables as <table>.csv, <table>.parquet or a <table>/ folder of Parquet
    files. CSV may be comma, semicolon, tab or pipe delimited, UTF-8 or Latin-1. Rows are record
    numbers as a spreadsheet shows them (header = row 1). Warnings (e.g. balances after a close
    date) do not fail the check; errors (missing columns, unreadable values, duplicate or orphan
    keys) do.
    """
    from finrep.validate import has_errors, validate

    fmt = format.lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    st: State = ctx.obj
    data_dir = data or st.config.data.dir
    with st.progress() as progress:
        findings = validate(data_dir, st.config, progress=progress)
    if fmt == "json":
        sys.stdout.write(json.dumps([f.to_dict() for f in findings], indent=2) + "\n")
    else:
        console = console_out()
        for renderable in render_text(findings, str(data_dir)):
            console.print(renderable, highlight=False)
    if has_errors(findings):
        raise typer.Exit(1)
