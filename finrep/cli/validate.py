"""`finrep validate` (not built yet)."""

from __future__ import annotations

import typer

from finrep.errors import FinrepError

NAME = "validate"


def command(ctx: typer.Context) -> None:
    """Not built yet."""
    raise FinrepError("finrep validate is not built yet")
