"""Configuration: TOML → frozen dataclasses, layered over the packaged defaults.

The packaged `config/finrep.toml` holds every key with its default and a comment. A user's
file (``--config PATH``, else ``./finrep.toml`` when present) only needs the keys it changes.
Unknown sections or keys and wrongly typed values raise `ConfigError` naming the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, get_type_hints

from finrep.errors import ConfigError
from finrep.resources import config_dir

DEFAULT_CONFIG_NAME = "finrep.toml"


@dataclass(frozen=True)
class CompanyConfig:
    name: str
    logo: str
    confidentiality: str
    currency_symbol: str


@dataclass(frozen=True)
class DataConfig:
    dir: str


@dataclass(frozen=True)
class EngineConfig:
    name: str
    spark_master: str
    spark_remote: str
    memory_limit: str = "256MB"
    memory_limit_max: str = "2GB"


@dataclass(frozen=True)
class ReportConfig:
    out: str
    page_size: str
    pages: tuple[str, ...]
    formats: tuple[str, ...]
    title: str
    author: str
    trend_months: int
    max_categories: int
    chart_workers: int


@dataclass(frozen=True)
class MeasuresConfig:
    equity_weight: MappingProxyType
    forecast_horizon: int
    forecast_backtest: int
    forecast_min_history: int
    top_n: int
    fcr_target: float
    residual_tolerance: float


@dataclass(frozen=True)
class ValidateConfig:
    max_rows_per_rule: int
    identity_tolerance: float
    memory_limit: str


@dataclass(frozen=True)
class ThemeConfig:
    palette: tuple[str, ...]
    primary: str
    accent: str
    positive: str
    negative: str
    neutral: str
    background: str
    grid: str
    font: str


@dataclass(frozen=True)
class XlsxConfig:
    positions_grain: tuple[str, ...]
    service_grain: tuple[str, ...]
    engagement_grain: tuple[str, ...]
    scatter_max_points: int


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    starttls: bool
    username: str
    password_env: str
    from_addr: str
    timeout: float
    max_attempts: int
    retry_delay: float
    max_attachment_mb: float
    subject: str


# TOML key → field name where the key is a Python keyword.
_ALIASES = {"from": "from_addr"}


@dataclass(frozen=True)
class Config:
    company: CompanyConfig
    data: DataConfig
    engine: EngineConfig
    report: ReportConfig
    measures: MeasuresConfig
    validate: ValidateConfig
    theme: ThemeConfig
    xlsx: XlsxConfig
    smtp: SmtpConfig
    # Folder relative paths in the config (e.g. the logo) are resolved against.
    base_dir: Path = field(default_factory=Path.cwd)
    source: Path | None = None

    def with_overrides(self, **sections: dict[str, Any]) -> Config:
        """A copy with some keys changed, e.g. ``with_overrides(engine={"name": "spark"})``."""
        changed = {}
        for section, values in sections.items():
            current = getattr(self, section)
            changed[section] = replace(current, **values)
        return replace(self, **changed)


def _sections() -> dict[str, type]:
    hints = get_type_hints(Config)
    return {f.name: hints[f.name] for f in fields(Config) if f.name not in ("base_dir", "source")}


def _coerce(where: str, hint: Any, value: Any) -> Any:
    origin = getattr(hint, "__origin__", None)
    if hint is MappingProxyType:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table of key = value, got {value!r}")
        return MappingProxyType(dict(value))
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return value
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def _merge(defaults: dict[str, Any], user: dict[str, Any], path: Path) -> dict[str, Any]:
    merged = {k: dict(v) for k, v in defaults.items()}
    for section, values in user.items():
        if section not in merged:
            raise ConfigError(
                f"{path}: unknown section [{section}] (known: {', '.join(sorted(merged))})"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, value in values.items():
            if key not in merged[section]:
                known = ", ".join(sorted(merged[section]))
                raise ConfigError(f"{path}: unknown key {section}.{key} (known: {known})")
            merged[section][key] = value
    return merged


def _refuse_password(user: dict[str, Any], path: Path) -> None:
    smtp = user.get("smtp", {})
    if isinstance(smtp, dict) and any(k in smtp for k in ("password", "pass", "secret")):
        raise ConfigError(
            f"{path}: [smtp] holds a password; passwords are never read from config files. "
            "Remove it and put the password in the environment variable named by "
            "smtp.password_env (default FINREP_SMTP_PASSWORD)."
        )


def load_config(path: str | Path | None = None) -> Config:
    """Read the packaged defaults, then `path` (or ./finrep.toml when present) over them."""
    default_path = config_dir() / DEFAULT_CONFIG_NAME
    defaults = _read_toml(default_path)
    user_path: Path | None = None
    if path is not None:
        user_path = Path(path)
    elif Path(DEFAULT_CONFIG_NAME).is_file():
        user_path = Path(DEFAULT_CONFIG_NAME)
    user: dict[str, Any] = {}
    if user_path is not None:
        user = _read_toml(user_path)
        _refuse_password(user, user_path)
    merged = _merge(defaults, user, user_path or default_path)

    sections: dict[str, Any] = {}
    for name, cls in _sections().items():
        hints = get_type_hints(cls)
        raw = {_ALIASES.get(k, k): v for k, v in merged[name].items()}
        missing = [f.name for f in fields(cls) if f.name not in raw]
        if missing:
            raise ConfigError(f"{default_path}: packaged defaults lack {name}.{missing[0]}")
        values = {
            k: _coerce(f"{user_path or default_path}: {name}.{k}", hints[k], v)
            for k, v in raw.items()
        }
        sections[name] = cls(**values)
    config = Config(
        **sections,
        base_dir=(user_path.resolve().parent if user_path else Path.cwd()),
        source=user_path,
    )
    _check(config)
    return config


def _check(config: Config) -> None:
    where = config.source or "config"
    if config.engine.name not in ("duckdb", "spark"):
        raise ConfigError(
            f"{where}: engine.name must be duckdb or spark, not {config.engine.name!r}"
        )
    if config.report.page_size not in ("Letter", "A4"):
        raise ConfigError(
            f"{where}: report.page_size must be Letter or A4, not {config.report.page_size!r}"
        )
