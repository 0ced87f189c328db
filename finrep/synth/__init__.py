"""Synthetic data: the nine tables of `schema.py`, realistic, consistent and reproducible.

`generate` writes them chunk by chunk of customers (memory stays flat as --customers grows),
as CSV or typed Parquet, plus ``manifest.json`` (options, row counts, SHA-256 of every file).
A background thread builds the next chunk while two threads write the current one's tables;
each chunk's random stream depends only on (seed, chunk number), so the same options give
byte-identical files however the work is scheduled.
"""

from __future__ import annotations

import os
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import closing
from pathlib import Path

import numpy as np

from finrep.errors import ConfigError, DataError
from finrep.schema import TABLES
from finrep.synth.balances import product_returns
from finrep.synth.catalogue import build_advisors, build_products
from finrep.synth.chunk import Chunk, World, build_chunk, chunk_size
from finrep.synth.columns import Serial
from finrep.synth.customers import acquisition_days
from finrep.synth.manifest import MANIFEST_NAME, build_manifest, write_manifest
from finrep.synth.market import build_market
from finrep.synth.pools import build_pools
from finrep.synth.window import Options, Window
from finrep.synth.writers import TableSink

__all__ = ["generate", "MANIFEST_NAME"]

Progress = Callable[[str, int, int], None]
# Tables written per chunk of customers, in the order their progress bars appear.
# Chunks built ahead of the one being written, and threads writing a chunk's tables.
BUILDERS = 1
WRITERS = 2
CHUNKED_TABLES = ("customers", "enrollments", "account_balances", "service_interactions",
                  "engagement", "retention")  # fmt: skip


def _own_names() -> set[str]:
    names = {MANIFEST_NAME}
    for t in TABLES.values():
        names |= {f"{t.filename}.csv", f"{t.filename}.parquet", t.filename}
    return names


def _prepare_folder(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder; choose another --out")
    if out.is_dir():
        existing = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        if existing and not force:
            shown = ", ".join(existing[:5]) + (" …" if len(existing) > 5 else "")
            raise ConfigError(
                f"--out {out}: folder is not empty ({shown}); pass --force to replace the "
                "generated tables in it, or choose an empty or new folder"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise DataError(f"--out {out}: folder is not writable; choose another --out")


def build_world(opts: Options) -> World:
    """The run-wide state, from the options alone."""
    window = Window(opts.start, opts.end)
    pools = build_pools(opts.seed)
    market = build_market(window, opts.seed)
    products = build_products(window)
    world = World(
        seed=opts.seed,
        customers=opts.customers,
        window=window,
        pools=pools,
        market=market,
        products=products,
        advisors=build_advisors(opts.customers, pools, opts.seed),
        returns=product_returns(products, market, opts.seed),
        enroll_day=acquisition_days(window, opts.customers, opts.seed),
        n_agents=max(20, -(-opts.customers // 250)),
        widths=World.id_widths(opts.customers, window.n_months),
    )
    world.agent_ids  # built once, before builders share the world  # noqa: B018
    return world


def _remove_stale(out: Path, written: set[str]) -> None:
    """After a successful --force run: remove this generator's outputs that the run did not
    replace (the other format's files, a partition folder or single file), so a stale file
    is never read instead of a new one. Other files in the folder are left alone."""
    for name in sorted(_own_names() - written - {MANIFEST_NAME}):
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _number(chunk: Chunk, serials: dict[str, int]) -> None:
    """Give the chunk's id columns the numbers that follow the previous chunk's."""
    for columns in chunk.tables.values():
        for column in columns.values():
            if isinstance(column, Serial):
                column.first = serials.get(column.prefix, 0)
                serials[column.prefix] = column.first + column.n


def _chunks_in_order(world: World, total: int, size: int) -> Iterator[Chunk]:
    """Chunks 0, 1, … in order, built ahead of the caller (who writes the current one) by
    BUILDERS background threads (numpy and Arrow release the GIL for the heavy parts), with
    at most BUILDERS chunks in flight so memory stays bounded. Chunks depend only on
    (options, chunk number), so who builds them does not change the output."""
    bounds = [(i, lo, min(lo + size, total)) for i, lo in enumerate(range(0, total, size))]
    if len(bounds) < 3 or BUILDERS == 0:
        for job in bounds:
            yield build_chunk(world, *job)
        return
    pool = ThreadPoolExecutor(max_workers=BUILDERS, thread_name_prefix="finrep-synth")
    pending: deque[Future[Chunk]] = deque()
    try:
        for job in bounds:
            pending.append(pool.submit(build_chunk, world, *job))
            if len(pending) > BUILDERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def generate(
    out: str | os.PathLike[str],
    *,
    customers: int = 1000,
    start: str = "2020-01",
    end: str = "2024-12",
    seed: int = 42,
    format: str = "csv",
    force: bool = False,
    partition: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Write the nine tables for `customers` customers joining between `start` and `end`
    (months, ``YYYY-MM``) into folder `out`; return the manifest (also written as
    ``manifest.json``).

    `format` is ``csv`` or ``parquet``; `partition` (Parquet only) writes
    ``account_balances/`` partitioned by ``year_month=YYYY-MM``. A non-empty `out` is refused
    unless `force`. `progress(step, done, total)` is called as each table advances.
    Raises ConfigError for bad options, DataError when the folder cannot be written.
    """
    opts = Options.parse(customers, start, end, seed, format, partition)
    report = progress or (lambda step, done, total: None)
    out = Path(out)
    _prepare_folder(out, force)

    world = build_world(opts)
    window, pools, market, products, advisors = (
        world.window,
        world.pools,
        world.market,
        world.products,
        world.advisors,
    )
    advisor_clients = np.zeros(advisors.n, dtype=np.int64)
    serials: dict[str, int] = {}

    sinks = {
        name: TableSink(out, TABLES[name], opts.format,
                        partition=opts.partition and name == "account_balances")
        for name in TABLES
    }  # fmt: skip
    try:
        for name, columns in (("products", products.columns()),
                              ("market_data", market.columns())):  # fmt: skip
            sinks[name].write(columns)
            report(name, 1, 1)
        total = opts.customers
        for name in CHUNKED_TABLES:
            report(name, 0, total)
        size = chunk_size(window.n_months)
        with (
            closing(_chunks_in_order(world, total, size)) as chunks,
            ThreadPoolExecutor(WRITERS, thread_name_prefix="finrep-write") as writers,
        ):
            for chunk in chunks:
                _number(chunk, serials)
                advisor_clients += chunk.advisor_clients
                done = min((chunk.index + 1) * size, total)
                # The chunk's tables are written side by side (Arrow releases the GIL); each
                # table's chunks stay in order because a chunk's writes all end before the
                # next chunk's begin.
                writes = {name: writers.submit(sinks[name].write, chunk.tables[name])
                          for name in CHUNKED_TABLES}  # fmt: skip
                wait(writes.values())
                for name, write in writes.items():
                    write.result()
                    report(name, done, total)
                del chunk, writes
        sinks["advisors"].write(advisors.columns(pools, advisor_clients))
        report("advisors", 1, 1)
        # Files replace their older versions only now, each in one rename: until here a
        # previous dataset in the folder stays whole.
        written = {sink.finish().name for sink in sinks.values()}
        _remove_stale(out, written)
    except BaseException:
        for sink in sinks.values():
            sink.abort()
        raise

    manifest = build_manifest(out, opts, {name: sinks[name] for name in TABLES})
    write_manifest(out, manifest)
    report("manifest", 1, 1)
    return manifest
