"""A delivered message whose outcome can't be recorded at first is recorded later, not resent."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.outbox import Outbox, Outgoing
from routing.clock import SystemClock
from storage import repository as repo
from storage.db import Database
from storage.models import OutboxMessage


class CountingTransport:
    def __init__(self) -> None:
        self.sent: list[int] = []

    async def deliver(self, item: Outgoing) -> list[str]:
        self.sent.append(item.id)
        return [str(100 + item.id)]


async def test_a_failed_recording_is_retried_and_the_message_not_sent_twice(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'o.sqlite3'}")
    await db.upgrade()
    async with db.transaction() as s:
        repo.enqueue(s, "tg", "1", "ack", {"type": "text", "text": "принято"}, now=datetime.now(UTC))
    transport = CountingTransport()
    outbox = Outbox(db, {"tg": transport}, SystemClock())
    failures = {"left": 2}
    real_record = outbox._record_finished

    async def flaky_record() -> None:
        if failures["left"] > 0:  # the database refuses the first two attempts
            failures["left"] -= 1
            batch, outbox._finished = outbox._finished, []
            for _, _, done in batch:
                done.set_exception(RuntimeError("database is locked"))
            return
        await real_record()

    outbox._record_finished = flaky_record  # type: ignore[method-assign]
    await outbox.deliver_due()
    async with db.transaction() as s:
        row = (await s.execute(select(OutboxMessage))).scalar_one()
    assert transport.sent == [row.id]
    assert row.status == "sent" and row.sent_message_ids == [str(100 + row.id)]
    assert failures["left"] == 0
    # nothing is left to send again
    assert await outbox.deliver_due() == 0 and transport.sent == [row.id]
    await db.dispose()
