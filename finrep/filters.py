"""Filters (the dashboard's slicers), as given on the command line or in a recipients file."""

from __future__ import annotations

from dataclasses import dataclass, fields

from finrep.errors import ConfigError

# Field name → command-line option (MEASURES.md, Filters).
FILTER_OPTIONS = {
    "segment": "--segment",
    "state": "--state",
    "region": "--region",
    "age_band": "--age-band",
    "category": "--category",
    "product": "--product",
    "channel": "--channel",
    "device": "--device",
    "advisor": "--advisor",
}


@dataclass(frozen=True)
class Filters:
    """Values per dimension; an empty tuple means "all". Values are kept in the order given.

    `segment`, `state`, `region`, `age_band` filter customers (and through them every table);
    `category`, `product` filter positions; `channel` filters service interactions;
    `device` filters engagement; `advisor` filters positions by their advisor (bursting).
    """

    segment: tuple[str, ...] = ()
    state: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    age_band: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    product: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    device: tuple[str, ...] = ()
    advisor: tuple[str, ...] = ()

    @classmethod
    def of(cls, **values: object) -> Filters:
        """Build from keyword lists, ignoring None: ``Filters.of(segment=["Affluent"])``."""
        clean = {}
        for key, value in values.items():
            if key not in FILTER_OPTIONS:
                raise ConfigError(f"unknown filter {key!r} (known: {', '.join(FILTER_OPTIONS)})")
            if value is None:
                continue
            items = (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
            clean[key] = tuple(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))
        return cls(**clean)

    @classmethod
    def parse(cls, text: str) -> Filters:
        """Parse ``segment=Affluent;region=West;region=South`` (recipients files)."""
        values: dict[str, list[str]] = {}
        for part in (p.strip() for p in (text or "").split(";")):
            if not part:
                continue
            key, sep, value = part.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or not value.strip():
                raise ConfigError(f"filter {part!r} is not of the form key=value")
            values.setdefault(key, []).append(value.strip())
        return cls.of(**values)

    def items(self) -> list[tuple[str, tuple[str, ...]]]:
        """The filters in force, as (name, values) in a fixed order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)]

    def merged(self, other: Filters) -> Filters:
        """These filters with `other`'s dimensions added (other wins per dimension)."""
        values = {name: vals for name, vals in self.items()}
        values.update(dict(other.items()))
        return Filters(**values)

    def as_dict(self) -> dict[str, list[str]]:
        return {name: list(vals) for name, vals in self.items()}

    @property
    def is_empty(self) -> bool:
        return not self.items()

    def label(self) -> str:
        """Human label: ``Segment: Affluent · Region: West, South``; empty when unfiltered."""
        return " · ".join(
            f"{name.replace('_', ' ').capitalize()}: {', '.join(vals)}"
            for name, vals in self.items()
        )

    def canonical(self, where: str = "") -> Filters:
        """These filters with closed-domain values (segment, state, region, age band,
        category, channel, device) in their canonical spelling, matched ignoring case.

        An unknown value raises `ConfigError` naming the option (or `where`, e.g. a
        recipients file row) and the allowed values: a typo must not silently select nothing.
        """
        domains = _domains()
        values: dict[str, list[str]] = {}
        for name, vals in self.items():
            domain = domains.get(name)
            clean = []
            for v in vals:
                match = (
                    v
                    if domain is None
                    else next((d for d in domain if d.casefold() == v.casefold()), None)
                )
                if match is None:
                    shown = ", ".join(domain[:12]) + (", …" if len(domain) > 12 else "")
                    label = f"{where}: {name}" if where else FILTER_OPTIONS[name]
                    raise ConfigError(f"{label} {v!r} is not one of {shown}")
                clean.append(match)
            values[name] = clean
        return Filters.of(**values)

    def slug(self) -> str:
        """File-name part: ``segment-affluent_region-west``; empty when unfiltered."""
        parts = []
        for name, vals in self.items():
            parts.append(name.replace("_", "-") + "-" + "+".join(vals))
        return "_".join(parts)


def _domains() -> dict[str, tuple[str, ...]]:
    from finrep import schema

    return {
        "segment": schema.SEGMENTS,
        "state": schema.STATES,
        "region": schema.REGIONS,
        "age_band": schema.AGE_BANDS,
        "category": schema.PRODUCT_CATEGORIES,
        "channel": schema.SERVICE_CHANNELS,
        "device": schema.DEVICE_TYPES,
    }
