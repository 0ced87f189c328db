"""`finrep generate` (not built yet)."""

from __future__ import annotations

import typer

from finrep.errors import FinrepError

NAME = "generate"


def command(ctx: typer.Context) -> None:
    """Not built yet."""
    raise FinrepError("finrep generate is not built yet")
