"""`finrep measures` (not built yet)."""

from __future__ import annotations

import typer

from finrep.errors import FinrepError

NAME = "measures"


def command(ctx: typer.Context) -> None:
    """Not built yet."""
    raise FinrepError("finrep measures is not built yet")
