"""`finrep demo`: generate the default synthetic dataset (only if the data folder is absent or
empty), then build the pack for its latest month and print where the files are."""

from __future__ import annotations

from pathlib import Path

import typer

from finrep.cli.report import print_result
from finrep.cli.state import State, console_out

NAME = "demo"


def command(ctx: typer.Context) -> None:
    """Generate demo data (if data/ is absent) and build the latest month's pack."""
    from finrep.report import make_report
    from finrep.synth import generate

    st: State = ctx.obj
    config = st.config
    data = Path(config.data.dir)
    console = console_out()
    with st.progress() as progress:
        if not data.is_dir() or not any(data.iterdir()):
            manifest = generate(data, progress=progress)
            customers = manifest["row_counts"]["customers"]
            console.print(
                f"Generated a demo dataset ({customers:,} customers) in {data}/", highlight=False
            )
        else:
            console.print(f"Using the data already in {data}/", highlight=False)
        result = make_report(data, period="latest", config=config, formats=None,
                             progress=progress)  # fmt: skip
    print_result(result, config.company.currency_symbol)
    console.print()
    console.print(
        f"Done. Open {result.paths.get('pdf') or next(iter(result.paths.values()))} to read "
        "the pack.",
        highlight=False,
    )
