"""Advisory index at the size of the full OSV data: load time, memory and match time per
dependency with ~300,000 records.

The dataset is the full Go vulnerability database (``../shared/data/osv-go``, 4,291 records)
copied until it holds ``--records`` records: each copy renames its ids, aliases and packages
(``<module>/copy7``), so the copies are distinct advisories about distinct packages with the
real database's shape (ranges, pseudo-versions, several packages per record). Measured, each
in this process:

1. parsing the records (``osv.parse_record``) and digesting them (``record_digest``, what the
   feed sync compares);
2. verifying a feed export of them (``advisories.export.verify_export`` on an ``all.zip`` of
   every record, CRC, JSON and OSV checks);
3. writing the analyzers' snapshot (``snapshot.write_snapshot``, what the worker exports once
   per dataset version) and matching dependencies through it (``SnapshotAdvisoryIndex``: the
   production path, one indexed query per package, then ``advisory_affects``);
4. the in-memory index (``MemoryAdvisoryIndex``) over all records: build time, memory
   (tracemalloc peak, RSS growth) and match time.

Matching is timed per dependency over ``--dependencies`` lookups: half are packages of the
dataset at versions around their events (hits and near misses), half unknown packages.

Usage (from the repository root)::

    .venv/bin/python bench/advisory_index.py [--records 300000] [--dependencies 5000]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import resource
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scanpulse.advisories.export import verify_export  # noqa: E402
from scanpulse.advisories.index import MemoryAdvisoryIndex  # noqa: E402
from scanpulse.advisories.matching import advisory_affects  # noqa: E402
from scanpulse.advisories.osv import Advisory, parse_record, record_digest  # noqa: E402
from scanpulse.advisories.snapshot import SnapshotAdvisoryIndex, write_snapshot  # noqa: E402

SOURCE = ROOT.parent / "shared" / "data" / "osv-go"


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1024**2


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_source() -> list[dict[str, Any]]:
    records = []
    for path in sorted(SOURCE.rglob("*.json")):
        records.append(json.loads(path.read_text()))
    return records


def synthesise(source: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    copy = 0
    while len(out) < count:
        for record in source:
            if len(out) >= count:
                break
            if copy == 0:
                out.append(record)
                continue
            clone = json.loads(json.dumps(record))
            clone["id"] = f"{record['id']}-C{copy}"
            clone["aliases"] = [f"{alias}-C{copy}" for alias in record.get("aliases", [])]
            for entry in clone.get("affected", []):
                package = entry.get("package")
                if package:
                    package["name"] = f"{package['name']}/copy{copy}"
            out.append(clone)
        copy += 1
    return out


def dependencies(
    advisories: list[Advisory], count: int, seed: int = 7
) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    known = []
    for advisory in rng.sample(advisories, min(len(advisories), count)):
        for entry in advisory.affected:
            versions = [
                event.version for r in entry.ranges for event in r.events if event.version != "0"
            ]
            version = rng.choice(versions) if versions else "1.0.0"
            known.append((entry.ecosystem, entry.name, version))
            break
    known = known[: count // 2]
    unknown = [("Go", f"example.com/nothing/{i}", "v1.2.3") for i in range(count - len(known))]
    deps = known + unknown
    rng.shuffle(deps)
    return deps


def first_sync(export: Path, contents: Any, tmp: Path) -> float:
    """The store's side of a first feed sync (``apply_feed``) of the whole export into a fresh
    embedded (SQLite) store, then the analyzers' snapshot exported from it."""
    import os

    os.environ["DJANGO_SETTINGS_MODULE"] = "scanpulse.config.settings.embedded"
    os.environ["SCANPULSE_DATA_DIR"] = str(tmp / "data")
    import django

    django.setup()
    from django.core.management import call_command

    from scanpulse.advisories import store
    from scanpulse.advisories.export import read_export
    from scanpulse.advisories.store import apply_feed, ensure_snapshot

    swaps: list[float] = []
    swap_in = store._swap_in

    def timed_swap_in(*args: Any, **kwargs: Any) -> Any:
        # The one transaction that holds SQLite's write lock.
        started = time.perf_counter()
        try:
            return swap_in(*args, **kwargs)
        finally:
            swaps.append(time.perf_counter() - started)

    store._swap_in = timed_swap_in
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    load = apply_feed(
        "Go",
        url="bench",
        etag="",
        last_modified="",
        present=contents.records,
        read=lambda ids: read_export(export, contents, ids),
        errors=[],
    )
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    snapshot = ensure_snapshot(tmp / "snapshots")
    export_s = time.perf_counter() - started
    assert snapshot is not None
    print(
        f"first feed sync into SQLite: {len(load.added):,} records in {load_s:.1f} s "
        f"(of which the swap-in transaction {sum(swaps):.1f} s); "
        f"snapshot exported from the database in {export_s:.1f} s "
        f"({snapshot.stat().st_size / 1024**2:.0f} MB)"
    )
    return load_s


def match_all(index: Any, deps: list[tuple[str, str, str]]) -> tuple[float, int]:
    started = time.perf_counter()
    hits = 0
    for ecosystem, name, version in deps:
        for advisory in index.lookup(ecosystem, name):
            if advisory_affects(advisory, ecosystem, name, version):
                hits += 1
    return time.perf_counter() - started, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--dependencies", type=int, default=5_000)
    parser.add_argument(
        "--no-database",
        dest="database",
        action="store_false",
        help="skip the first feed sync into a fresh SQLite store",
    )
    options = parser.parse_args()
    print(
        f"python {platform.python_version()}, {platform.machine()}, {platform.system()} {platform.release()}"
    )
    print(f"baseline RSS {rss_mb():.0f} MB")

    started = time.perf_counter()
    raw = synthesise(load_source(), options.records)
    print(
        f"synthesised {len(raw):,} records from {SOURCE.name} in {time.perf_counter() - started:.1f} s"
    )

    gc.collect()
    rss_parse = rss_mb()
    started = time.perf_counter()
    advisories = [parse_record(record) for record in raw]
    parse_s = time.perf_counter() - started
    records_mb = rss_mb() - rss_parse
    started = time.perf_counter()
    digests = {advisory.id: record_digest(advisory) for advisory in advisories}
    digest_s = time.perf_counter() - started
    print(
        f"parse {parse_s:.1f} s (+{records_mb:.0f} MB RSS for the parsed records), "
        f"digest {digest_s:.1f} s ({len(digests):,} ids)"
    )
    deps = dependencies(advisories, options.dependencies)

    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "all.zip"
        started = time.perf_counter()
        with zipfile.ZipFile(export, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for record in raw:
                archive.writestr(f"{record['id']}.json", json.dumps(record))
        print(
            f"export written: {export.stat().st_size / 1024**2:.0f} MB in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        contents = verify_export(export, max_uncompressed=64 * 1024**3)
        verify_s = time.perf_counter() - started
        assert len(contents.records) == len(raw), (len(contents.records), contents.errors[:3])
        print(f"verify_export {verify_s:.1f} s ({len(contents.records):,} records)")
        db_s = first_sync(export, contents, Path(tmp)) if options.database else 0.0
        del contents
        export.unlink()

        snapshot = Path(tmp) / "advisories.sqlite3"
        started = time.perf_counter()
        rows = (
            (ecosystem, name, json.dumps(advisory.to_dict()))
            for advisory in advisories
            for ecosystem, name in dict.fromkeys(entry.package_key for entry in advisory.affected)
        )
        write_snapshot(snapshot, rows, description="bench")
        snapshot_s = time.perf_counter() - started
        snapshot_mb = snapshot.stat().st_size / 1024**2
        print(f"snapshot written in {snapshot_s:.1f} s, {snapshot_mb:.0f} MB")
        started = time.perf_counter()
        index = SnapshotAdvisoryIndex(snapshot)
        index.ecosystems()
        open_s = time.perf_counter() - started
        rss_before = rss_mb()
        snap_s, snap_hits = match_all(index, deps)
        snap_warm_s, _ = match_all(index, deps)
        snap_rss = rss_mb() - rss_before
        print(
            f"snapshot index: open {open_s * 1000:.0f} ms, match {snap_s / len(deps) * 1e6:.0f} µs/dependency "
            f"cold, {snap_warm_s / len(deps) * 1e6:.0f} µs warm; {snap_hits:,} hits; +{snap_rss:.0f} MB RSS"
        )
        del index

    gc.collect()
    rss_before = rss_mb()
    tracemalloc.start()
    started = time.perf_counter()
    memory = MemoryAdvisoryIndex(advisories, source="bench")
    build_s = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mem_rss = rss_mb() - rss_before
    mem_s, mem_hits = match_all(memory, deps)
    mem_warm_s, _ = match_all(memory, deps)
    print(
        f"memory index: build {build_s:.1f} s, tracemalloc peak {peak / 1024**2:.0f} MB, "
        f"+{mem_rss:.0f} MB RSS; match {mem_s / len(deps) * 1e6:.0f} µs/dependency cold, "
        f"{mem_warm_s / len(deps) * 1e6:.0f} µs warm; {mem_hits:,} hits"
    )
    assert mem_hits == snap_hits, (mem_hits, snap_hits)
    print(
        f"SUMMARY records={len(raw)} dependencies={len(deps)} parse_s={parse_s:.1f} "
        f"verify_s={verify_s:.1f} first_sync_db_s={db_s:.1f} snapshot_write_s={snapshot_s:.1f} "
        f"snapshot_match_us={snap_s / len(deps) * 1e6:.0f} memory_build_s={build_s:.1f} "
        f"memory_match_us={mem_s / len(deps) * 1e6:.0f} parsed_records_mb={records_mb:.0f} "
        f"snapshot_mb={snapshot_mb:.0f} "
        f"peak_rss_mb={peak_rss_mb():.0f}"
    )


if __name__ == "__main__":
    main()
