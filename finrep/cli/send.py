"""`finrep send` (not built yet)."""

from __future__ import annotations

import typer

from finrep.errors import FinrepError

NAME = "send"


def command(ctx: typer.Context) -> None:
    """Not built yet."""
    raise FinrepError("finrep send is not built yet")
