"""The send log, ``reports/<period>/sent.jsonl``: one JSON line per recipient per attempt.

Each line: recipient, name, filters, period, files (name, bytes, SHA-256), message-id,
status (``sent`` | ``refused`` | ``failed``), error, time (UTC). The file is rewritten
atomically after every message, so a crash never leaves a torn line, and a re-run skips
recipients whose latest line for the same filters says ``sent``. A lock file keeps two runs
for the same period from sending twice. No password or message body is ever written here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finrep.atomic import write_text_atomic
from finrep.deliver.naming import filters_identity
from finrep.errors import DeliveryError
from finrep.filters import Filters

try:  # POSIX; elsewhere runs are not locked against each other
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOG_NAME = "sent.jsonl"
LOCK_NAME = ".sent.jsonl.lock"
SENT, REFUSED, FAILED = "sent", "refused", "failed"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_records(paths: Sequence[Path]) -> list[dict[str, Any]]:
    return [{"name": p.name, "bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in paths]


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class LogEntry:
    recipient: str
    status: str  # sent | refused | failed
    period: str
    filters: dict[str, list[str]] = field(default_factory=dict)
    name: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)
    message_id: str = ""
    error: str = ""
    time: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.recipient.casefold(), filters_identity(Filters.of(**self.filters)))


class SendLog:
    """The log of one period's folder. Use as a context manager to hold the run lock."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOG_NAME
        self._lock_fh: Any = None
        self._lines: list[str] = []
        self._latest: dict[tuple[str, str], LogEntry] = {}
        self._load()

    def _load(self) -> None:
        self._lines, self._latest = [], {}
        if not self.path.exists():
            return
        text = self.path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                entry = LogEntry(**doc)
            except (ValueError, TypeError) as exc:
                raise DeliveryError(
                    f"{self.path}: line {number} is not a send-log entry ({exc}); fix or "
                    "delete that line (deleting it means that recipient may be sent again)"
                ) from None
            self._lines.append(line)
            self._latest[entry.key] = entry

    def __enter__(self) -> SendLog:
        self.folder.mkdir(parents=True, exist_ok=True)
        if fcntl is not None:
            fh = (self.folder / LOCK_NAME).open("a")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                raise DeliveryError(
                    f"another finrep send is running for {self.folder} (lock "
                    f"{self.folder / LOCK_NAME}); wait for it to finish"
                ) from None
            self._lock_fh = fh
        self._load()  # another run may have written before the lock was ours
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock_fh is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def entries(self) -> Iterator[LogEntry]:
        for line in self._lines:
            yield LogEntry(**json.loads(line))

    def sent(self, recipient: str, filters: Filters) -> LogEntry | None:
        """The latest entry for this recipient and filters if it says ``sent``, else None."""
        entry = self._latest.get((recipient.casefold(), filters_identity(filters)))
        return entry if entry is not None and entry.status == SENT else None

    def record(self, entries: Sequence[LogEntry]) -> None:
        """Append `entries` and rewrite the file atomically (old content + new lines)."""
        for entry in entries:
            line = json.dumps(asdict(entry), ensure_ascii=False, sort_keys=False)
            self._lines.append(line)
            self._latest[entry.key] = entry
        write_text_atomic(self.path, "\n".join(self._lines) + "\n")
