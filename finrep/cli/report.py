"""`finrep report` (not built yet)."""

from __future__ import annotations

import typer

from finrep.errors import FinrepError

NAME = "report"


def command(ctx: typer.Context) -> None:
    """Not built yet."""
    raise FinrepError("finrep report is not built yet")
