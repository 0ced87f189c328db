"""Locate the packaged `config/` and `templates/` folders.

In a clone (or an editable install) they sit at the repository root; in an installed wheel
they are copied into `finrep/_data/` (see `[tool.hatch.build.targets.wheel.force-include]`).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"finrep's packaged folder {name!r} is missing; reinstall finrep")


def config_dir() -> Path:
    """Folder holding the packaged `finrep.toml` and `recipients.example.csv`."""
    return _find("config")


def templates_dir() -> Path:
    """Folder holding the email and page text templates."""
    return _find("templates")
