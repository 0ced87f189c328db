"""`finrep generate`: write a synthetic dataset (the nine tables + manifest.json)."""

from __future__ import annotations

from typing import Annotated

import typer

from finrep.cli.state import State, console_out

NAME = "generate"


def command(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 1000,
    start: Annotated[str, typer.Option(help="First month, YYYY-MM.")] = "2020-01",
    end: Annotated[str, typer.Option(help="Last month, YYYY-MM.")] = "2024-12",
    seed: Annotated[int, typer.Option(min=0, help="Random seed (same seed, same files).")] = 42,
    format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    out: Annotated[str, typer.Option(help="Folder to write (must be empty or new).")] = "data",
    force: Annotated[
        bool, typer.Option("--force", help="Replace the generated tables in a non-empty folder.")
    ] = False,
    partition: Annotated[
        bool,
        typer.Option(
            "--partition",
            help="Parquet only: write account_balances/ partitioned by year_month=YYYY-MM.",
        ),
    ] = False,
) -> None:
    """Generate a realistic, consistent synthetic dataset (same options, same bytes)."""
    from finrep.synth import generate

    state: State = ctx.obj
    with state.progress() as progress:
        manifest = generate(
            out,
            customers=customers,
            start=start,
            end=end,
            seed=seed,
            format=format,
            force=force,
            partition=partition,
            progress=progress,
        )
    if not state.quiet:
        counts = manifest["row_counts"]
        total = sum(counts.values())
        console = console_out()
        console.print(f"Wrote {total:,} rows in {len(counts)} tables to {out}/", highlight=False)
        for name, rows in counts.items():
            console.print(f"  {name:<22} {rows:>12,}", highlight=False)
