"""The `finrep` command: global options, command registration, and the one place that turns a
`FinrepError` into ``Error: …`` on stderr with exit code 1."""

from __future__ import annotations

import gc
import logging
import warnings
from typing import Annotated

import typer
from rich.markup import escape
from typer.core import TyperGroup

from finrep.cli.state import State, console_err
from finrep.config import load_config
from finrep.errors import FinrepError


class FinrepGroup(TyperGroup):
    """Catches finrep's own errors once for every command (no tracebacks for users)."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except FinrepError as exc:
            state = ctx.obj if isinstance(ctx.obj, State) else None
            if state is not None and state.debug:
                raise
            console_err().print(
                f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            console_err().print("Interrupted; nothing half-written was left behind.")
            raise typer.Exit(130) from None


class _WarningsOnStderr(logging.Handler):
    """The library's logged warnings (e.g. a query retried with more memory), printed like
    the CLI's errors: ``Warning: …`` on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        console_err().print(
            f"[yellow]Warning:[/] {escape(record.getMessage())}", highlight=False, soft_wrap=True
        )


def _show_library_warnings() -> None:
    log = logging.getLogger("finrep")
    if not any(isinstance(h, _WarningsOnStderr) for h in log.handlers):
        # Propagation stays on: with this handler found, Python's last-resort handler no
        # longer prints the bare message too, and a host application's handlers still see it.
        log.addHandler(_WarningsOnStderr(logging.WARNING))


app = typer.Typer(
    cls=FinrepGroup,
    name="finrep",
    help="Report packs (PDF + Excel) for a wealth / asset-management firm.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _global(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(help="Config file (default ./finrep.toml if present, else packaged)."),
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="Query engine: duckdb (default) or spark.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks (for bug reports).")] = False,
) -> None:
    """finrep: generate, validate, measure, report and send."""
    state = State(quiet=quiet, debug=debug)
    ctx.obj = state
    _show_library_warnings()
    try:
        cfg = load_config(config)
        if engine is not None:
            if engine not in ("duckdb", "spark"):
                raise typer.BadParameter("must be duckdb or spark", param_hint="--engine")
            cfg = cfg.with_overrides(engine={"name": engine})
    except FinrepError as exc:
        if debug:
            raise
        console_err().print(
            f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    state.config = cfg


def _register() -> None:
    # One module per command (DESIGN.md, house style); each exposes `command`.
    from finrep.cli import demo, generate, measures, report, send, validate

    for module in (generate, validate, measures, report, send, demo):
        app.command(module.NAME, help=module.command.__doc__)(module.command)


_register()


def _quiet_library_warnings() -> None:
    # ibis 12 asks pandas 3 about a deprecated option and calls a deprecated DuckDB method;
    # users can do nothing about either, so they must not clutter every command's output.
    warnings.filterwarnings("ignore", message=".*future.infer_string.*")
    warnings.filterwarnings("ignore", message=r".*fetch_arrow_table\(\) is deprecated.*")


def main() -> None:
    """Console-script entry point."""
    _quiet_library_warnings()
    try:
        app()  # exits (SystemExit) with the command's code
    finally:
        # The command is done and its files are written and closed. What is left is the
        # interpreter's teardown, whose garbage collection of every object the run made
        # (frames, expressions, the engine's) took ~0.4 s after a report at a million
        # customers. Frozen objects are left out of it; exit handlers (the engine's
        # temporary folder) still run.
        gc.freeze()
