"""Recipients: ``--to`` addresses and recipients files (CSV ``email,name,filters``).

Everything a header is built from is checked here, before any pack is built or any mail is
sent: one address per field, no CR/LF (header injection), filter values inside the schema's
domains (a misspelt segment would otherwise mail a silently empty pack).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from finrep.errors import ConfigError, DeliveryError
from finrep.filters import Filters

COLUMNS = ("email", "name", "filters")

# One plain address: no display name, no list, no spaces or angle brackets.
_ADDRESS = re.compile(r"^[^@\s,;<>()\"\[\]\\:]+@[^@\s,;<>()\"\[\]\\:]+$")


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""
    filters: Filters = Filters()


def check_header_value(what: str, value: str) -> str:
    """Refuse CR, LF and other control characters in anything that goes into a header."""
    for ch in value:
        if ch in "\r\n" or (ord(ch) < 32 and ch != "\t") or ord(ch) == 127:
            raise DeliveryError(
                f"{what} {value!r} contains a line break or control character "
                f"({ch!r}); refusing it (header injection). Remove it and try again."
            )
    return value


def check_address(what: str, value: str) -> str:
    """One e-mail address, stripped; CR/LF and lists of addresses refused."""
    check_header_value(what, value)
    address = value.strip()
    if not _ADDRESS.match(address):
        raise DeliveryError(
            f"{what} {value!r} is not one e-mail address (expected name@domain, one per "
            "field; repeat --to for several recipients)"
        )
    return address


def normalise_filters(filters: Filters, where: str) -> Filters:
    """Filters with closed-domain values in their canonical case; unknown values refused."""
    for name, vals in filters.items():
        for v in vals:
            check_header_value(f"{where}: filter {name}", v)
    return filters.canonical(where)


def recipients_from_addresses(addresses: list[str], filters: Filters) -> list[Recipient]:
    """``--to`` addresses: one pack (with `filters`) for all of them."""
    seen: dict[str, Recipient] = {}
    for a in addresses:
        address = check_address("--to", a)
        seen.setdefault(address.casefold(), Recipient(address, "", filters))
    return list(seen.values())


def read_recipients(path: str | Path, base: Filters | None = None) -> list[Recipient]:
    """Read a recipients CSV (``email,name,filters``; header required, UTF-8, BOM allowed).

    Each row's filters (``segment=Affluent;region=West``) apply on top of `base` (the
    command line's). Errors name the file, the row (header = row 1) and the column.
    """
    path = Path(path)
    base = base or Filters()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: recipients file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise ConfigError(f"{path}: empty file; expected a header row: {','.join(COLUMNS)}")
    names = [h.strip().lower() for h in header]
    missing = [c for c in ("email",) if c not in names]
    if missing:
        raise ConfigError(
            f"{path}: missing column `email` (found: {', '.join(header) or 'nothing'}); "
            f"expected {','.join(COLUMNS)}"
        )
    index = {n: i for i, n in enumerate(names)}
    recipients: list[Recipient] = []
    seen: set[tuple[str, Filters]] = set()
    row_no = 1
    for row in reader:
        row_no += 1  # record number, as Excel counts rows
        if not any(cell.strip() for cell in row):
            continue

        def cell(column: str, row: list[str] = row) -> str:
            i = index.get(column)
            return row[i] if i is not None and i < len(row) else ""

        where = f"{path}: row {row_no}"
        email = check_address(f"{where}, column email:", cell("email"))
        name = check_header_value(f"{where}, column name:", cell("name")).strip()
        try:
            filters = normalise_filters(Filters.parse(cell("filters")), f"{where}, column filters")
        except ConfigError as exc:
            msg = str(exc)
            raise ConfigError(msg if msg.startswith(str(path)) else f"{where}: {msg}") from None
        filters = base.merged(filters)
        key = (email.casefold(), filters)
        if key in seen:
            raise ConfigError(f"{where}: {email} with the same filters is listed twice")
        seen.add(key)
        recipients.append(Recipient(email, name, filters))
    if not recipients:
        raise ConfigError(f"{path}: no recipients (only a header row)")
    return recipients
