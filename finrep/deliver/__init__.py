"""Delivery: e-mailing packs (`send`) and bursting one pack per value of a dimension (`burst`).

Public API: ``finrep.send`` (= `send`), ``finrep.deliver.burst.burst``, and the result
types. Internals: `naming` (safe file names), `recipients`, `summary`, `message`
(composition and checks), `smtp` (sessions and retries), `sendlog` (``sent.jsonl``),
`packs` (building and finding packs).
"""

from __future__ import annotations

from finrep.deliver.burst import BURST_KEYS, BurstResult
from finrep.deliver.recipients import Recipient, read_recipients
from finrep.deliver.sending import RecipientStatus, SendFailed, SendResult, send

__all__ = [
    "BURST_KEYS",
    "BurstResult",
    "Recipient",
    "RecipientStatus",
    "SendFailed",
    "SendResult",
    "read_recipients",
    "send",
]
