"""Engine and transactions: SQLite tuned for concurrency, PostgreSQL through asyncpg, same code."""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
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


class Database:
    def __init__(self, url: str = DEFAULT_DATABASE_URL, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _prepare_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any exception. Inside
        `shared_transaction` it joins the shared one, which commits for all."""
        shared = _shared.get()
        if shared is not None:
            yield shared
            return
        from storage.repository import flush_deferred

        async with self._sessions() as session, session.begin():
            yield session
            await flush_deferred(session)

    @asynccontextmanager
    async def shared_transaction(self) -> AsyncIterator[AsyncSession]:
        """Group commit: every `transaction()` opened inside (in this task) is one transaction,
        committed once at the end — all or nothing."""
        from storage.repository import flush_deferred

        async with self._sessions() as session, session.begin():
            token = _shared.set(session)
            try:
                yield session
                await flush_deferred(session)
            finally:
                _shared.reset(token)

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
