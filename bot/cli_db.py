"""`otklik db backup FILE`: a consistent copy of the SQLite database, safe while the bot runs.

SQLite's online backup copies the pages in one read transaction, so a running bot (WAL mode) keeps
writing and the copy is a snapshot of one moment, the write-ahead log included — unlike `cp`,
which can catch the file between a write to the log and the checkpoint. The copy is then checked
(`PRAGMA integrity_check`) and the row counts of the main tables printed. PostgreSQL has its own
tool for this (`pg_dump`); the command says so instead of pretending.
"""
from __future__ import annotations

import argparse
import contextlib
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bot.config import Environment
from storage.db import NoDatabaseError, sqlite_file

COUNTED = ("appeals", "citizens", "appeal_messages", "outbox")


def register(db_subparsers: Any) -> None:
    """Add `backup` to `otklik db`."""
    backup = db_subparsers.add_parser(
        "backup",
        help="copy the SQLite database to FILE, consistently, while the bot runs",
        description=(
            "Copy the bot's SQLite database (OTKLIK_DATABASE_URL) to FILE with SQLite's online backup: "
            "safe while the bot is running, the copy is checked with PRAGMA integrity_check. To restore, "
            "stop the bot and put the copy in the database file's place. For PostgreSQL use pg_dump."
        ),
    )
    backup.add_argument("file", help="where to write the copy, e.g. backups/otklik-2026-12-06.sqlite3")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    backup.set_defaults(func=backup_command)


def backup_command(args: argparse.Namespace) -> int:
    database_url = Environment.from_env().database_url
    backend = make_url(database_url).get_backend_name()
    if backend != "sqlite":
        print(f"error: the database is {backend}, not SQLite: back it up with its own tools "
              "(for PostgreSQL: pg_dump -Fc …)", file=sys.stderr)
        return 2
    source = sqlite_file(database_url)
    if source is None:
        print("error: an in-memory or URI SQLite database has no file to copy", file=sys.stderr)
        return 2
    if not source.is_file():
        raise NoDatabaseError(str(source))
    target = Path(args.file)
    if target.exists() and not args.force:
        print(f"error: {target} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    if target.resolve() == source.resolve():
        print("error: the copy would overwrite the database itself", file=sys.stderr)
        return 2
    if target.parent != Path():
        target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    started = time.perf_counter()
    try:
        counts = _copy(source, partial)
    except sqlite3.DatabaseError as exc:
        partial.unlink(missing_ok=True)
        print(f"error: the backup failed: {exc}", file=sys.stderr)
        return 1
    partial.replace(target)  # FILE is either the old one or a whole, checked copy: never half written
    seconds = time.perf_counter() - started
    figures = ", ".join(f"{table} {count}" for table, count in counts.items())
    print(f"{source} -> {target}: {target.stat().st_size / 1e6:.1f} MB in {seconds:.1f} s, "
          f"integrity ok ({figures})")
    return 0


def _copy(source: Path, target: Path) -> dict[str, int]:
    target.unlink(missing_ok=True)
    # an ordinary connection (a read-only one would leave -wal and -shm files behind it); it only reads
    with contextlib.closing(sqlite3.connect(source, timeout=30)) as src, \
            contextlib.closing(sqlite3.connect(target)) as dst:
        # in one step: under WAL a reader does not block the bot's writers, and a copy made in steps
        # would start over each time the bot wrote between two of them
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal beside it
        status = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if status != "ok":
            raise sqlite3.DatabaseError(f"integrity check of the copy: {status}")
        tables = {row[0] for row in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {t: int(dst.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in COUNTED if t in tables}
