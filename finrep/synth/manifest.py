"""``manifest.json``: what was generated, with which options, and a SHA-256 of every file.

It holds no timestamps, so the same options give a byte-identical manifest too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from finrep.atomic import write_text_atomic
from finrep.synth.window import Options

MANIFEST_NAME = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_manifest(out: Path, opts: Options, sinks: dict) -> dict:
    from finrep import __version__

    files = []
    for name, sink in sinks.items():
        for path in sink.files():
            files.append(
                {
                    "table": name,
                    "path": path.relative_to(out).as_posix(),
                    "bytes": path.stat().st_size,
                    "sha256": sha256_file(path),
                }
            )
    return {
        "generator": "finrep generate",
        "finrep_version": __version__,
        "options": opts.as_dict(),
        "seed": opts.seed,
        "format": opts.format,
        "row_counts": {name: sink.rows for name, sink in sinks.items()},
        "files": files,
    }


def write_manifest(out: Path, manifest: dict) -> Path:
    return write_text_atomic(out / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
