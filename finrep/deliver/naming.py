"""File names derived from data (burst values, recipients' filters): safe and collision-free.

RELIABILITY.md (Outputs): no ``/``, ``\\``, ``..``, control characters or reserved device
names (``CON``, ``NUL`` …); the result stays inside the output folder; two values that
sanitise alike still get distinct names. Names are lower-case ASCII so that folders on
case-insensitive file systems (macOS, Windows) cannot merge two packs either.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

from finrep.errors import DeliveryError
from finrep.filters import Filters
from finrep.period import Period

PREFIX = "finrep"
MAX_PART = 60  # characters of one sanitised value
MAX_STEM = 160  # characters of a whole file stem (well under the usual 255-byte limit)

_RESERVED = {"con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(10)}
_UNSAFE = re.compile(r"[^a-z0-9]+")


def short_hash(text: str, length: int = 8) -> str:
    """First `length` hex digits of the SHA-256 of `text` (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def slug(value: str) -> str:
    """``Ultra High Net Worth`` → ``ultra-high-net-worth``; ``Dvořák`` → ``dvorak``.

    Accents are folded, anything else outside ``[a-z0-9]`` becomes one ``-``; never empty
    (``"../.."`` → ``x``), never a reserved device name (``NUL`` → ``nul-``), at most
    `MAX_PART` characters. Different values may give the same slug: see `distinct_names`.
    """
    folded = unicodedata.normalize("NFKD", str(value))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii").lower()
    text = _UNSAFE.sub("-", ascii_text).strip("-")[:MAX_PART].strip("-")
    if not text:
        return "x"
    if text in _RESERVED:
        text += "-"
    return text


def distinct_names(proposed: Mapping[str, str]) -> dict[str, str]:
    """Make proposed names unique: ``{identity: name}`` → ``{identity: unique name}``.

    Names shared by several identities (``"A/B"`` and ``"A-B"`` both propose ``a-b``) get
    ``-<hash of the identity>`` appended, for every member of the clash, so the result does
    not depend on the order of the mapping. Unique names are kept as they are.
    """
    counts: dict[str, int] = {}
    for name in proposed.values():
        counts[name] = counts.get(name, 0) + 1
    result = {
        ident: (name if counts[name] == 1 else f"{name}-{short_hash(ident)}")
        for ident, name in proposed.items()
    }
    if len(set(result.values())) != len(result):  # a hashed name met a plain one: lengthen
        result = {ident: f"{proposed[ident]}-{short_hash(ident, 16)}" for ident in proposed}
    return result


def period_part(period: Period) -> str:
    """``2024-09``, ``2024-Q3``, ``2024``, or ``2024-01_2024-03`` for a range (no ``..``)."""
    return period.spec.replace("..", "_")


def filters_identity(filters: Filters) -> str:
    """A canonical text of `filters` (the form recipients files use), for hashing and logs."""
    return ";".join(f"{name}={value}" for name, values in filters.items() for value in values)


def filters_part(filters: Filters) -> str:
    """``segment-affluent-region-west`` for ``segment=Affluent;region=West``; ``""`` if none."""
    parts = []
    for name, values in filters.items():
        parts.append(name.replace("_", "-") + "-" + "+".join(slug(v) for v in values))
    return "-".join(parts)


def pack_stem(period: Period, filters: Filters, burst: tuple[str, str] | None = None) -> str:
    """``finrep-<period>[-<filters>][-<key>-<value>]``: the file stem of one pack.

    `burst` (key, value) comes last so a burst reads ``finrep-2024-09-segment-affluent``.
    Over-long stems are cut and completed with a hash of the full filters.
    """
    base = filters
    if burst is not None:
        key, _ = burst
        base = Filters(**{n: v for n, v in filters.items() if n != key})
    parts = [PREFIX, period_part(period)]
    if not base.is_empty:
        parts.append(filters_part(base))
    if burst is not None:
        parts.append(f"{burst[0].replace('_', '-')}-{slug(burst[1])}")
    stem = "-".join(parts)
    if len(stem) > MAX_STEM:
        full = filters if burst is None else base.merged(Filters.of(**{burst[0]: [burst[1]]}))
        stem = stem[: MAX_STEM - 9].rstrip("-") + "-" + short_hash(filters_identity(full))
    return stem


def distinct_stems(
    period: Period, filter_sets: Iterable[Filters], burst_key: str | None = None
) -> dict[Filters, str]:
    """One unique stem per distinct `Filters` (e.g. every recipient's, or every burst value's).

    With `burst_key`, each filter set's value of that key names the burst part.
    """
    proposed: dict[str, str] = {}
    by_identity: dict[str, Filters] = {}
    for filters in filter_sets:
        ident = filters_identity(filters)
        if ident in by_identity:
            continue
        by_identity[ident] = filters
        burst = None
        if burst_key is not None:
            values = getattr(filters, burst_key)
            if len(values) != 1:
                raise DeliveryError(f"burst by {burst_key}: expected one value, got {values!r}")
            burst = (burst_key, values[0])
        proposed[ident] = pack_stem(period, filters, burst)
    unique = distinct_names(proposed)
    return {by_identity[ident]: stem for ident, stem in unique.items()}


def inside(folder: Path, name: str) -> Path:
    """`folder / name`, refusing any name that would land outside `folder`."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise DeliveryError(f"refusing unsafe file name {name!r} (it could leave {folder})")
    path = folder / name
    if not path.resolve().is_relative_to(folder.resolve()):
        raise DeliveryError(f"refusing file name {name!r}: it resolves outside {folder}")
    return path
