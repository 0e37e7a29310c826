"""Engine and transactions: SQLite tuned for concurrency, PostgreSQL through asyncpg, same code."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/otklik.sqlite3"


def _prepare_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # take transaction control from the driver, so that "begin" below decides how to start
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # a deferred read-then-write under WAL fails with "database is locked" whatever the
        # busy timeout; taking the write lock up front makes writers queue instead
        conn.exec_driver_sql("BEGIN IMMEDIATE")


_shared: ContextVar[AsyncSession | None] = ContextVar("otklik_shared_transaction", default=None)


@dataclass(frozen=True)
class OutboxHandoff:
    instance: str
    lease: timedelta
    now: Callable[[], datetime]
    accept: Callable[[list[dict[str, Any]]], None]


class NoDatabaseError(Exception):
    """A command that only reads the database was pointed at an SQLite file that is not there."""

    def __init__(self, path: str) -> None:
        # a relative path starts from the working directory, the usual reason it is not found
        where = path if Path(path).is_absolute() else f"{path} in {Path.cwd()}"
        super().__init__(f"no database at {where} — has the bot run yet? "
                         "Set OTKLIK_DATABASE_URL to the bot's database")
        self.path = path


class DatabaseUrlError(ValueError):
    """OTKLIK_DATABASE_URL is not an address the bot can use (not a URL, or no asyncio driver)."""


# the drivers the bot runs on: it is asyncio throughout
ASYNC_DRIVERS = {"sqlite": ("aiosqlite",), "postgresql": ("asyncpg", "psycopg")}
URL_EXAMPLES = "sqlite+aiosqlite:///data/otklik.sqlite3 or postgresql+asyncpg://user:password@host/db"


def checked_url(url: str | URL) -> URL:
    """The URL parsed, or DatabaseUrlError saying what to write instead (never echoing a password)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(f"the database address is not a URL; expected {URL_EXAMPLES}") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in ASYNC_DRIVERS:
        raise DatabaseUrlError(f"the database address is for {backend!r}; Otklik runs on SQLite or PostgreSQL: "
                               f"{URL_EXAMPLES}")
    if "+" not in parsed.drivername or driver not in ASYNC_DRIVERS[backend]:  # bare: SQLAlchemy's sync default
        wanted = f"{backend}+{ASYNC_DRIVERS[backend][0]}://"
        raise DatabaseUrlError(f"the database address starts with {parsed.drivername}://, which is not an "
                               f"asyncio driver: write {wanted}… (for example {URL_EXAMPLES})")
    return parsed


def sqlite_file(url: str | URL) -> Path | None:
    """The file of an SQLite URL; None for other databases, in-memory SQLite, and a `file:` URI
    (?uri=true), which is SQLite's to interpret rather than a plain path."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" or url.query.get("uri"):
        return None
    return Path(url.database)


class Database:
    def __init__(
        self, url: str = DEFAULT_DATABASE_URL, *, echo: bool = False, must_exist: bool = False
    ) -> None:
        """must_exist: for commands that only read — an SQLite file that is not there raises
        NoDatabaseError instead of being created empty (in-memory SQLite and PostgreSQL are not checked)."""
        self.url = checked_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # an error's message must not carry a citizen's text from the statement's parameters into the log
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                file = sqlite_file(self.url)
                if must_exist and file is not None and not file.is_file():
                    raise NoDatabaseError(database)
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _prepare_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time; connections of one process that collide on its lock
        # wait in SQLite's busy handler, which sleeps for milliseconds at a time. Queue them here
        # instead: first come, first served, no sleeping. (Other processes still meet the busy
        # timeout; PostgreSQL needs none of this.)
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        # set by the outbox: outgoing rows are then written already claimed by this process and
        # handed over after commit, saving the outbox a query and the citizen its latency
        self.outbox_handoff: OutboxHandoff | None = None

    def _prepare(self, session: AsyncSession) -> None:
        if self.outbox_handoff is not None:
            handoff = self.outbox_handoff
            session.info["outbox_claim"] = (handoff.instance, handoff.now() + handoff.lease)

    def _hand_over(self, session: AsyncSession) -> None:
        rows = session.info.pop("handoff", None)
        if rows and self.outbox_handoff is not None:
            self.outbox_handoff.accept(rows)

    def _serialised(self) -> contextlib.AbstractAsyncContextManager[object]:
        return self._write_lock if self._write_lock is not None else contextlib.nullcontext()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any exception. Inside
        `shared_transaction` it joins the shared one, which commits for all."""
        shared = _shared.get()
        if shared is not None:
            yield shared
            return
        from storage.repository import flush_deferred

        async with self._serialised(), self._sessions() as session:
            async with session.begin():
                self._prepare(session)
                yield session
                await flush_deferred(session)
            self._hand_over(session)

    @asynccontextmanager
    async def shared_transaction(self) -> AsyncIterator[AsyncSession]:
        """Group commit: every `transaction()` opened inside (in this task) is one transaction,
        committed once at the end — all or nothing."""
        from storage.repository import flush_deferred

        async with self._serialised(), self._sessions() as session:
            async with session.begin():
                self._prepare(session)
                token = _shared.set(session)
                try:
                    yield session
                    await flush_deferred(session)
                finally:
                    _shared.reset(token)
            self._hand_over(session)

    async def upgrade(self) -> None:
        """Bring the schema to the newest migration (new or older databases alike)."""
        from storage.migrate import upgrade_connection

        async with self.engine.connect() as conn:
            await conn.run_sync(upgrade_connection)
            await conn.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()

    def describe(self) -> str:
        return self.url.render_as_string(hide_password=True)
