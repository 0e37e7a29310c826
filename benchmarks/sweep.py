"""Benchmark: the deadline sweep over 10k, 100k and 1M open appeals on SQLite, most of them not due.

For each size it fills a fresh SQLite file (bulk insert through the stdlib driver), then times with the
real DeadlineWatch: the sweep that finds `--due` appeals due (claims them and queues their reminders)
and the idle sweep right after it (nothing due). For contrast it times the same read with the index
switched off (`NOT INDEXED`), and prints SQLite's EXPLAIN QUERY PLAN of the sweep's query.

    python benchmarks/sweep.py [--sizes 10000,100000,1000000] [--due 100] [--keep DIR]

Not a test: it prints figures. The point: the sweep's cost follows what is due, not what is open.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.dialects import sqlite as sqlite_dialect

from bot.config import OtklikConfig, load_config
from routing.calendar import WorkingCalendar
from routing.clock import ManualClock
from routing.deadlines import DeadlineWatch, due_query
from routing.sla import SlaClock
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BATCH = 200


def _ts(moment: datetime) -> str:
    # the text SQLAlchemy's SQLite DateTime writes for an aware UTC value (see storage.models.UtcDateTime)
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def fill(path: Path, size: int, due: int, clock: SlaClock) -> None:
    """`size` open appeals with a running first-answer clock; `due` of them have their next alert in the past."""
    rng = random.Random(size)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    with con:
        con.execute(
            "insert into citizens (id, platform, platform_user_id, chat_id, display_name, created_at) "
            "values (1, 'tg', '1001', '1001', 'Мария', ?)", (_ts(NOW - timedelta(days=30)),),
        )
        due_ids = set(rng.sample(range(1, size + 1), due))

        def rows():  # type: ignore[no-untyped-def]
            for i in range(1, size + 1):
                if i in due_ids:
                    # received a day ago: its 50% reminder (in working time, by the shipped config) has come
                    created = NOW - timedelta(days=1, seconds=rng.randint(0, 3600))
                    terms = clock.deadlines("roads", created)
                    first_due, final_due = terms.first_answer, terms.resolution
                    alert_at = clock.moment_at_fraction(created, first_due, 0.5)
                    assert alert_at <= NOW
                else:
                    # not due: the next reminder anywhere from a minute to a month ahead
                    created = NOW - timedelta(seconds=rng.randint(60, 3600))
                    alert_at = NOW + timedelta(seconds=rng.randint(60, 30 * 86400))
                    first_due, final_due = alert_at + timedelta(hours=4), created + timedelta(days=9)
                yield (
                    i, 1, "tg", "routed", "яма на дороге", "[]", "roads", "rybinsk", "adm_rybinsk", 0,
                    _ts(created), _ts(created), _ts(created), _ts(created), _ts(first_due), _ts(final_due),
                    "first_answer", _ts(created), _ts(alert_at), "first_answer@0.5",
                )

        con.executemany(
            "insert into appeals (id, citizen_id, platform, status, text, photos, category, municipality, "
            "account_code, urgent, created_at, updated_at, registered_at, routed_at, first_answer_due, "
            "resolution_due, sla_term, sla_started_at, next_alert_at, next_alert_stage) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
    con.execute("ANALYZE")
    # a running bot's WAL is small; a fresh 1M-row one would slow every read for reasons of its own
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def query_sql() -> tuple[str, list[object]]:
    compiled = due_query(NOW, BATCH).compile(dialect=sqlite_dialect.dialect())
    params = [compiled.params[name] for name in compiled.positiontup or []]
    # the bound datetime goes in as the stored text, as UtcDateTime would write it
    return str(compiled), [_ts(p) if isinstance(p, datetime) else p for p in params]


def explain_and_scan(path: Path) -> tuple[list[str], float, float]:
    sql, params = query_sql()
    con = sqlite3.connect(path)
    plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql, params)]
    timings = {}
    for name, text in (("indexed", sql), ("not_indexed", sql.replace("FROM appeals", "FROM appeals NOT INDEXED"))):
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            con.execute(text, params).fetchall()
            runs.append(time.perf_counter() - start)
        timings[name] = min(runs)
    con.close()
    return plan, timings["indexed"], timings["not_indexed"]


def shipped_clock() -> tuple[OtklikConfig, SlaClock]:
    config = load_config(ROOT / "config.yaml")
    return config, SlaClock(config.sla, WorkingCalendar(config.calendar))


async def sweep_times(path: Path, due: int) -> tuple[float, int, float]:
    config, clock = shipped_clock()
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        watch = DeadlineWatch(db, config, clock, ManualClock(NOW))
        start = time.perf_counter()
        result = await watch.sweep()
        busy = time.perf_counter() - start
        assert result.alerts == due, result
        idle_runs = []
        for _ in range(5):
            start = time.perf_counter()
            again = await watch.sweep()
            idle_runs.append(time.perf_counter() - start)
            assert again.seen == 0, again
        return busy, result.alerts, statistics.median(idle_runs)
    finally:
        await db.dispose()


async def create_schema(path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.upgrade()
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="open appeals per run, comma-separated")
    parser.add_argument("--due", type=int, default=100, help="how many of them are due (default 100)")
    parser.add_argument("--keep", help="a folder to keep the database files in (default: a temp folder)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"SQLite {sqlite3.sqlite_version}; {args.due} appeals due in each run, the rest due later")
        print(f"{'open appeals':>12} {'fill, s':>8} {'sweep (due), ms':>16} {'idle sweep, ms':>15} "
              f"{'read, index, ms':>16} {'read, no index, ms':>19}")
        plan: list[str] = []
        for size in sizes:
            path = folder / f"sweep_{size}.sqlite3"
            path.unlink(missing_ok=True)
            asyncio.run(create_schema(path))
            start = time.perf_counter()
            fill(path, size, args.due, shipped_clock()[1])
            filled = time.perf_counter() - start
            plan, indexed, scan = explain_and_scan(path)
            busy, _, idle = asyncio.run(sweep_times(path, args.due))
            print(f"{size:>12,} {filled:>8.1f} {busy * 1000:>16.1f} {idle * 1000:>15.2f} "
                  f"{indexed * 1000:>16.2f} {scan * 1000:>19.1f}")
        sql, _ = query_sql()
        print("\nThe sweep's query:\n  " + " ".join(sql.split()))
        print("EXPLAIN QUERY PLAN:")
        for line in plan:
            print(f"  {line}")


if __name__ == "__main__":
    main()
