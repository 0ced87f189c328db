"""`finrep send`: email the pack (built if missing) to --to addresses or a recipients file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from finrep.cli.options import (
    AgeBandOpt,
    CategoryOpt,
    ChannelOpt,
    DataOpt,
    DeviceOpt,
    PeriodOpt,
    ProductOpt,
    RegionOpt,
    SegmentOpt,
    StateOpt,
    filters_from,
)
from finrep.cli.state import State, console_out
from finrep.deliver import SendFailed, SendResult, send
from finrep.pack import PAGE_KEYS

NAME = "send"

FORMATS = ("pdf", "xlsx")


def _pages(text: str) -> tuple[str, ...] | None:
    if text.strip().lower() == "all":
        return None
    pages = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in pages if p not in PAGE_KEYS]
    if bad or not pages:
        raise typer.BadParameter(
            f"unknown page {', '.join(bad) or '(none)'}; use all or {','.join(PAGE_KEYS)}",
            param_hint="--pages",
        )
    return pages


def _formats(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise typer.BadParameter(
            f"unknown format {', '.join(bad) or '(none)'}; use pdf, xlsx or pdf,xlsx",
            param_hint="--format",
        )
    return formats


def _print(result: SendResult) -> None:
    table = Table(title=f"{result.period.label}: {result.folder}", title_justify="left")
    for column in ("Recipient", "Filters", "Pack", "Status", "Detail"):
        table.add_column(column, overflow="fold")
    for s in result.statuses:
        detail = s.eml.name if s.eml else s.detail
        pack = s.files[0].stem if s.files else ""
        table.add_row(s.email, s.filters.label() or "all", pack, s.status, detail)
    console_out().print(table, soft_wrap=False)
    counts = ", ".join(
        f"{result.count(status)} {status}"
        for status in ("sent", "skipped", "dry-run", "refused", "failed", "not sent")
        if result.count(status)
    )
    console_out().print(f"{counts}. Log: {result.folder / 'sent.jsonl'}", highlight=False)


def command(
    ctx: typer.Context,
    to: Annotated[
        list[str] | None,
        typer.Option("--to", help="Recipient address (repeatable): one pack, one message."),
    ] = None,
    recipients: Annotated[
        Path | None,
        typer.Option(
            "--recipients",
            help="CSV of email,name,filters (e.g. segment=Affluent;region=West): "
            "a personalised pack per row.",
        ),
    ] = None,
    data: DataOpt = None,
    period: PeriodOpt = "latest",
    pages: Annotated[
        str, typer.Option("--pages", help=f"all, or some of {','.join(PAGE_KEYS)}.")
    ] = "all",
    format: Annotated[
        str | None,
        typer.Option("--format", help="Files to attach: pdf,xlsx (default: report.formats)."),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", help="Reports folder (default: report.out); packs go in <out>/<period>/."
        ),
    ] = None,
    segment: SegmentOpt = None,
    state: StateOpt = None,
    region: RegionOpt = None,
    age_band: AgeBandOpt = None,
    category: CategoryOpt = None,
    product: ProductOpt = None,
    channel: ChannelOpt = None,
    device: DeviceOpt = None,
    allow_invalid: Annotated[
        bool, typer.Option("--allow-invalid", help="Build packs even if validation finds errors.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Write each message as .eml beside its pack; send nothing."),
    ] = False,
    resend: Annotated[
        bool, typer.Option("--resend", help="Send again to recipients already sent this period.")
    ] = False,
    smtp_host: Annotated[
        str | None, typer.Option("--smtp-host", help="SMTP server (default: smtp.host).")
    ] = None,
    smtp_port: Annotated[
        int | None, typer.Option("--smtp-port", help="SMTP port (default: smtp.port).")
    ] = None,
    no_starttls: Annotated[
        bool,
        typer.Option("--no-starttls", help="Do not require STARTTLS (local relay only)."),
    ] = False,
    from_addr: Annotated[
        str | None, typer.Option("--from", help="Sender address (default: smtp.from).")
    ] = None,
) -> None:
    """Email the pack: to --to addresses, or a personalised pack per row of --recipients.

    Packs missing from <out>/<period>/ are built first. Every message is logged in
    <out>/<period>/sent.jsonl; a re-run sends only what was not sent (--resend to force).
    Exit code 0: everything sent (or already sent); 1: something was not sent, or a
    data/config/delivery error; 2: wrong usage.
    """
    obj: State = ctx.obj
    if bool(to) == (recipients is not None):
        raise typer.BadParameter(
            "give either --to ADDR (repeatable) or --recipients FILE", param_hint="--to"
        )
    filters = filters_from(segment, state, region, age_band, category, product, channel, device)
    with obj.progress() as progress:
        try:
            result = send(
                data,
                to=to or (),
                recipients=recipients,
                period=period,
                filters=filters,
                config=obj.config,
                formats=_formats(format),
                pages=_pages(pages),
                out_dir=out,
                allow_invalid=allow_invalid,
                dry_run=dry_run,
                resend=resend,
                smtp_host=smtp_host,
                smtp_port=smtp_port,
                starttls=False if no_starttls else None,
                from_addr=from_addr,
                progress=progress,
            )
        except SendFailed as exc:
            _print(exc.result)  # what was and was not sent; the error follows on stderr
            raise
    _print(result)
