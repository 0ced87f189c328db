"""Helpers for delivery tests: aiosmtpd handlers that answer like real servers (accept,
refuse a recipient with 550, answer DATA with 451 a set number of times before accepting),
and hand-made packs on disk. Fixtures using them are in conftest.py."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from finrep.deliver.summary import KpiLine, PackSummary
from finrep.filters import Filters
from finrep.period import Period

SEPT = Period(date(2024, 9, 1), date(2024, 9, 30))
AUG = Period(date(2024, 8, 1), date(2024, 8, 31))
SEPT_LY = Period(date(2023, 9, 1), date(2023, 9, 30))
NO_FILTERS = Filters()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class Handler:
    """Accepts everything, except: `refuse` addresses get `refuse_reply` at RCPT; the first
    `data_failures` DATA commands get `data_reply`."""

    refuse: set[str] = field(default_factory=set)
    refuse_reply: str = "550 5.1.1 Mailbox unavailable"
    data_failures: int = 0
    data_reply: str = "451 4.3.0 Temporary failure, try again"
    received: list[Received] = field(default_factory=list)
    rcpt_calls: int = 0
    data_calls: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.rcpt_calls += 1
        if address in self.refuse:
            return self.refuse_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.data_calls += 1
        if self.data_calls <= self.data_failures:
            return self.data_reply
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted"


@dataclass
class Server:
    handler: Handler
    port: int
    controller: Controller

    @property
    def received(self) -> list[Received]:
        return self.handler.received


def summary(filters: Filters = NO_FILTERS, narrative: tuple[str, ...] = ()) -> PackSummary:
    """A hand-made pack summary: September 2024, five headline KPIs."""

    def kpi(key, label, unit, value, previous, last_year, higher_is_better=True):
        change = value - previous
        change_ly = value - last_year
        return KpiLine(
            key,
            label,
            unit,
            value,
            previous,
            last_year,
            change,
            change / abs(previous),
            change_ly,
            change_ly / abs(last_year),
            higher_is_better,
        )

    return PackSummary(
        company="Northwind Wealth Partners",
        title="Monthly Client & Asset Report",
        period=SEPT,
        comparison=AUG,
        last_year=SEPT_LY,
        filters=filters,
        as_of=date(2024, 9, 30),
        kpis=(
            kpi("aum", "AUM", "currency", 243_000_000.0, 237_304_687.5, 200_000_000.0),
            kpi("net_flows", "Net flows", "currency", 1_260_000.0, 1_500_000.0, 1_000_000.0),
            kpi("active_customers", "Active customers", "count", 812.0, 800.0, 700.0),
            kpi("retention_rate", "Retention rate", "pct", 0.9712, 0.9650, 0.9800),
            kpi("fee_revenue", "Fee revenue", "currency", 182_400.0, 180_000.0, 150_000.0),
        ),
        narrative=narrative
        or ("AUM rose 2.4% to $243.0M, driven by market returns.", "Retention held at 97.1%."),
    )


def write_pack(
    folder: Path, stem: str, filters: Filters = NO_FILTERS, pdf_size: int = 3000, **kw
) -> dict[str, Path]:
    """Put a complete pack on disk (as a previous run would have left it)."""
    folder.mkdir(parents=True, exist_ok=True)
    tag = stem.encode()
    pdf = folder / f"{stem}.pdf"
    xlsx = folder / f"{stem}.xlsx"
    pdf.write_bytes((b"%PDF-1.4 " + tag + b" ").ljust(pdf_size, b"x"))
    xlsx.write_bytes(b"PK\x03\x04 " + tag + b" workbook")
    summary(filters, **kw).save(folder / f"{stem}.summary.json")
    return {"pdf": pdf, "xlsx": xlsx}
