"""`send`: build what is missing, check everything, then mail each pack and log it.

Order of work, so that a failure never loses a pack or sends half a run unexpectedly:
1. recipients, SMTP settings and the password variable are checked (nothing built yet);
2. every pack not already in ``reports/<period>/`` is built;
3. every message is checked (header values, attachment sizes) before the first is sent;
4. messages go out one by one over one connection; each outcome is appended atomically to
   ``sent.jsonl`` at once, so a re-run sends only what is missing (``resend`` forces).
A run with any recipient not sent raises `SendFailed`, whose message lists what was and was
not sent; the packs stay on disk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finrep.atomic import write_bytes_atomic
from finrep.config import Config, load_config
from finrep.deliver.message import check_attachments, compose, render_subject, to_eml_bytes
from finrep.deliver.naming import distinct_names, distinct_stems, inside, slug
from finrep.deliver.packs import BuiltPack, DataSession, PackStore, Progress
from finrep.deliver.recipients import (
    Recipient,
    check_address,
    check_header_value,
    normalise_filters,
    read_recipients,
    recipients_from_addresses,
)
from finrep.deliver.sendlog import FAILED, REFUSED, SENT, LogEntry, SendLog, file_records, now_utc
from finrep.deliver.smtp import Mailer, SmtpSessionError, SmtpSettings
from finrep.errors import DeliveryError
from finrep.filters import Filters
from finrep.period import Period

SKIPPED, NOT_SENT, DRY_RUN = "skipped", "not sent", "dry-run"


@dataclass
class RecipientStatus:
    """What happened for one recipient in this run."""

    email: str
    name: str
    filters: Filters
    files: list[Path]
    status: str  # sent | skipped | refused | failed | not sent | dry-run
    detail: str = ""
    message_id: str = ""
    eml: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status in (SENT, SKIPPED, DRY_RUN)


@dataclass
class SendResult:
    period: Period
    folder: Path
    dry_run: bool
    statuses: list[RecipientStatus] = field(default_factory=list)
    built: list[Path] = field(default_factory=list)  # pack files built by this run

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.statuses)

    def count(self, status: str) -> int:
        return sum(1 for s in self.statuses if s.status == status)

    def describe(self) -> str:
        """What was and was not sent, one line per recipient that was not."""
        sent = [s for s in self.statuses if s.status == SENT]
        skipped = [s for s in self.statuses if s.status == SKIPPED]
        bad = [s for s in self.statuses if not s.ok]
        lines = [
            f"{len(bad)} of {len(self.statuses)} recipient{'s' if len(self.statuses) != 1 else ''} "
            f"not sent for {self.period.label}"
            + (f"; sent: {', '.join(s.email for s in sent)}" if sent else "; nothing sent")
            + (f"; already sent before: {len(skipped)}" if skipped else "")
            + "."
        ]
        lines += [f"  {s.email}: {s.status}: {s.detail}" for s in bad]
        lines.append(
            f"Every pack is kept in {self.folder}; run the same `finrep send` again to send "
            "only what is missing."
        )
        return "\n".join(lines)


class SendFailed(DeliveryError):
    """Some recipients were not sent; `.result` holds the whole run."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.describe())
        self.result = result


@dataclass(frozen=True)
class _Message:
    recipients: tuple[Recipient, ...]
    pack: BuiltPack
    eml_name: str


def _quiet(step: str, done: int, total: int) -> None:
    return None


def send(
    data_dir: str | Path | None = None,
    *,
    to: Sequence[str] = (),
    recipients: str | Path | Sequence[Recipient] | None = None,
    period: str = "latest",
    filters: Filters | None = None,
    config: Config | None = None,
    formats: str | Sequence[str] | None = None,
    pages: str | Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    allow_invalid: bool = False,
    dry_run: bool = False,
    resend: bool = False,
    smtp_host: str | None = None,
    smtp_port: int | None = None,
    starttls: bool | None = None,
    from_addr: str | None = None,
    progress: Progress | None = None,
) -> SendResult:
    """Email the pack of `period` to `to` (one pack, one message) or to each row of a
    recipients file (a personalised pack each: its filters on top of `filters`).

    Packs not yet in ``<out_dir>/<period>/`` are built first; `dry_run` writes each message
    as ``.eml`` beside its pack instead of sending. Returns the `SendResult` when every
    recipient was sent (or already had been); raises `SendFailed` (a DeliveryError) listing
    what was and was not sent otherwise, and DeliveryError/ConfigError before sending
    anything when a header, address, attachment size or setting is wrong.
    """
    config = config or load_config()
    progress = progress or _quiet
    base = normalise_filters(filters or Filters(), "filters")
    if bool(to) == (recipients is not None):
        raise DeliveryError("give either --to addresses or a --recipients file (one of them)")
    if to:
        people = recipients_from_addresses(list(to), base)
        groups = [tuple(people)]  # one message for every --to address
    elif isinstance(recipients, str | Path):
        groups = [(r,) for r in read_recipients(recipients, base)]
    else:
        groups = [
            (
                Recipient(
                    check_address("recipient", r.email),
                    check_header_value("name", r.name),
                    base.merged(normalise_filters(r.filters, r.email)),
                ),
            )
            for r in recipients or ()
        ]
        groups = list({_key(g[0]): g for g in groups}.values())  # each recipient once
        if not groups:
            raise DeliveryError("no recipients given")

    sender = check_address("--from / smtp.from", from_addr or config.smtp.from_addr)
    smtp = None
    if not dry_run:
        smtp = SmtpSettings.from_config(
            config, host=smtp_host, port=smtp_port, starttls=starttls, from_addr=sender
        )

    data = Path(data_dir if data_dir is not None else config.data.dir)
    with DataSession(data, config, allow_invalid=allow_invalid, progress=progress) as session:
        store = PackStore(
            session,
            session.resolve_period(period),
            out_dir=out_dir,
            formats=formats,
            pages=pages,
        )
        log = SendLog(store.folder)
        with contextlib.ExitStack() as stack:
            if not dry_run:
                stack.enter_context(log)  # one run per period folder at a time
            result = _run(config, groups, log, store, smtp, sender, dry_run, resend, progress)
    if not result.ok:
        raise SendFailed(result)
    return result


def _run(
    config: Config,
    groups: list[tuple[Recipient, ...]],
    log: SendLog,
    store: PackStore,
    smtp: SmtpSettings | None,
    sender: str,
    dry_run: bool,
    resend: bool,
    progress: Progress,
) -> SendResult:
    result = SendResult(store.period, store.folder, dry_run)
    # Names cover every recipient of the run (not only those still to send), so a re-run
    # finds the packs and names the first run chose.
    stems = distinct_stems(store.period, (g[0].filters for g in groups))
    statuses: dict[tuple[str, Filters], RecipientStatus] = {}
    pending = _pending(groups, log, store, resend, statuses)
    packs = _packs(store, pending, stems, result, progress)
    messages = _messages(config, pending, packs)  # every message checked before any is sent
    if dry_run:
        _write_drafts(config, messages, store, sender, statuses, progress)
    else:
        assert smtp is not None
        _deliver(config, messages, log, store, smtp, sender, statuses, progress)
    # in the order recipients were given
    result.statuses = [statuses[_key(r)] for g in groups for r in g]
    return result


def _key(r: Recipient) -> tuple[str, Filters]:
    return (r.email.casefold(), r.filters)


def _status(r: Recipient, files: list[Path], status: str, detail: str = "", **kw: Any):
    return RecipientStatus(r.email, r.name, r.filters, files, status, detail, **kw)


def _pending(
    groups: list[tuple[Recipient, ...]],
    log: SendLog,
    store: PackStore,
    resend: bool,
    statuses: dict[tuple[str, Filters], RecipientStatus],
) -> list[tuple[Recipient, ...]]:
    """The groups (messages) still to send, without the recipients already sent."""
    pending = []
    for group in groups:
        todo = []
        for r in group:
            done = None if resend else log.sent(r.email, r.filters)
            if done is None:
                todo.append(r)
                continue
            files = [store.folder / f["name"] for f in done.files]
            detail = f"already sent {done.time} ({done.message_id})"
            statuses[_key(r)] = _status(r, files, SKIPPED, detail, message_id=done.message_id)
        if todo:
            pending.append(tuple(todo))
    return pending


def _packs(
    store: PackStore,
    pending: list[tuple[Recipient, ...]],
    stems: dict[Filters, str],
    result: SendResult,
    progress: Progress,
) -> dict[Filters, BuiltPack]:
    """Every pack the pending messages need: found on disk, or built now."""
    needed = list(dict.fromkeys(g[0].filters for g in pending))
    packs = {}
    for f in needed:
        found = store.existing(f, stems[f])
        if found is not None:
            packs[f] = found
    to_build = [f for f in needed if f not in packs]
    if len(to_build) > 1:
        store.session.share()  # several packs from one data folder: load it once
    for i, f in enumerate(to_build):
        progress("Building packs", i, len(to_build))
        packs[f] = store.build(f, stems[f])
        result.built += packs[f].files
    progress("Building packs", len(to_build), len(to_build))
    return packs


def _messages(
    config: Config, pending: list[tuple[Recipient, ...]], packs: dict[Filters, BuiltPack]
) -> list[_Message]:
    """One message per pending group, with its `.eml` name; refuses over-size attachments
    and subjects that do not render, for every message before the first is sent."""
    names = {}
    for i, group in enumerate(pending):
        pack = packs[group[0].filters]
        check_attachments(
            pack.files, config.smtp.max_attachment_mb, ", ".join(r.email for r in group)
        )
        render_subject(config, pack.summary)
        more = f"-and-{len(group) - 1}-more" if len(group) > 1 else ""
        names[str(i)] = f"{pack.stem}--to-{slug(group[0].email)}{more}"
    unique = distinct_names(names)
    return [
        _Message(group, packs[group[0].filters], unique[str(i)] + ".eml")
        for i, group in enumerate(pending)
    ]


def _write_drafts(
    config: Config,
    messages: list[_Message],
    store: PackStore,
    sender: str,
    statuses: dict[tuple[str, Filters], RecipientStatus],
    progress: Progress,
) -> None:
    """--dry-run: each message as `.eml` beside its pack; nothing sent, nothing logged."""
    for i, m in enumerate(messages):
        progress("Writing messages", i, len(messages))
        msg = compose(config, m.pack.summary, m.recipients, m.pack.files, sender=sender)
        eml = write_bytes_atomic(inside(store.folder, m.eml_name), to_eml_bytes(msg))
        for r in m.recipients:
            statuses[_key(r)] = _status(
                r,
                m.pack.files,
                DRY_RUN,
                f"written to {eml}",
                message_id=str(msg["Message-ID"]),
                eml=eml,
            )
    progress("Writing messages", len(messages), len(messages))


def _deliver(
    config: Config,
    messages: list[_Message],
    log: SendLog,
    store: PackStore,
    smtp: SmtpSettings,
    sender: str,
    statuses: dict[tuple[str, Filters], RecipientStatus],
    progress: Progress,
) -> None:
    """Send each message over one connection, logging every outcome as it happens."""
    with Mailer(smtp) as mailer:
        for i, m in enumerate(messages):
            progress("Sending", i, len(messages))
            try:
                for status in _send_one(config, mailer, log, m, sender, store):
                    statuses[(status.email.casefold(), status.filters)] = status
            except SmtpSessionError as exc:
                # The server cannot be used: this and every later message stay unsent.
                log.record([_entry(r, m.pack, store, FAILED, error=str(exc)) for r in m.recipients])
                for later in messages[i:]:
                    for r in later.recipients:
                        statuses[_key(r)] = _status(r, later.pack.files, NOT_SENT, str(exc))
                break
        progress("Sending", len(messages), len(messages))


def _entry(
    r: Recipient,
    pack: BuiltPack,
    store: PackStore,
    status: str,
    *,
    message_id: str = "",
    error: str = "",
    files: list[dict] | None = None,
) -> LogEntry:
    return LogEntry(
        recipient=r.email,
        status=status,
        period=store.period.spec,
        filters=r.filters.as_dict(),
        name=r.name,
        files=files if files is not None else file_records(pack.files),
        message_id=message_id,
        error=error,
        time=now_utc(),
    )


def _send_one(
    config: Config, mailer: Mailer, log: SendLog, m: _Message, sender: str, store: PackStore
) -> list[RecipientStatus]:
    msg = compose(config, m.pack.summary, m.recipients, m.pack.files, sender=sender)
    message_id = str(msg["Message-ID"])
    outcome = mailer.send(msg, [r.email for r in m.recipients])
    files = file_records(m.pack.files)
    entries, statuses = [], []
    for r in m.recipients:
        if r.email in outcome.accepted:
            retried = f" on attempt {outcome.attempts}" if outcome.attempts > 1 else ""
            status, detail = SENT, f"accepted{retried}"
        elif r.email in outcome.refused:
            status, detail = REFUSED, outcome.refused[r.email]
        else:
            status, detail = FAILED, outcome.failed.get(r.email, "not accepted by the server")
        error = "" if status == SENT else detail
        entries.append(
            _entry(r, m.pack, store, status, message_id=message_id, error=error, files=files)
        )
        statuses.append(
            RecipientStatus(r.email, r.name, r.filters, m.pack.files, status, detail, message_id)
        )
    log.record(entries)
    return statuses
