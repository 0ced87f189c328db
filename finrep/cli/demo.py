"""`finrep demo` (not built yet)."""

from __future__ import annotations

import typer

from finrep.errors import FinrepError

NAME = "demo"


def command(ctx: typer.Context) -> None:
    """Not built yet."""
    raise FinrepError("finrep demo is not built yet")
