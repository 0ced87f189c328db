"""finrep: report packs (PDF + native Excel) for a wealth / asset-management firm.

Public API (imported lazily so `import finrep` stays fast):
``generate`` (synthetic data), ``load`` (typed tables), ``validate`` (findings),
``compute`` (measures), ``build_pack`` (the computed pack), ``send`` (delivery).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_API = {
    "generate": "finrep.synth",
    "load": "finrep.sources",
    "validate": "finrep.validate",
    "compute": "finrep.measures",
    "build_pack": "finrep.pack",
    "send": "finrep.deliver",
}

__all__ = [*_API, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'finrep' has no attribute {name!r}")
