"""Benchmark: the outbox under Telegram's real limits with many chats. Queues messages for many
private chats and a few groups, delivers them through the real aiogram client to the stand-in
(which answers 429 to any send that breaks a window, like Telegram) and prints the overall rate
and the busiest windows per chat.

    python benchmarks/delivery.py [--private-chats 450] [--groups 5] [--per-group 30]
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.limits import DeliveryConfig
from bot.outbox import Outbox
from bot.standin.telegram import TelegramStandin
from bot.telegram_transport import TelegramTransport
from routing.clock import SystemClock
from storage import repository as repo
from storage.db import Database


def busiest(times: list[float], seconds: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--private-chats", type=int, default=450)
    parser.add_argument("--per-private", type=int, default=2)
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--per-group", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    standin = TelegramStandin()
    base = await standin.start()
    standin.enforce_limits()  # Telegram's: 20 per 60 s per group, 30 per second overall, bursts per chat
    privates = list(range(300_000, 300_000 + args.private_chats))
    groups = [-1009000000000 - g for g in range(args.groups)]
    for chat in privates:
        standin.add_chat(chat)
    for chat in groups:
        standin.add_chat(chat, type="supergroup", title=f"group {chat}")

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'delivery.sqlite3'}")
        await db.upgrade()
        now = datetime.now(UTC)
        async with db.transaction() as s:
            for n in range(max(args.per_private, args.per_group)):
                for chat in privates if n < args.per_private else []:
                    repo.enqueue(s, "tg", str(chat), "bench", {"type": "text", "text": f"private {n}"}, now=now)
                for chat in groups if n < args.per_group else []:
                    repo.enqueue(s, "tg", str(chat), "bench", {"type": "text", "text": f"card {n}"}, now=now)
        bot = Bot(standin.token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
        outbox = Outbox(db, {"tg": TelegramTransport(bot)}, SystemClock(), limits=DeliveryConfig(),
                        queue_per_chat=50)
        arrivals: dict[int, list[float]] = {}
        original = standin._m_send_message

        def timed(params: dict, uploads: dict) -> dict:
            result = original(params, uploads)
            arrivals.setdefault(int(params["chat_id"]), []).append(time.monotonic())
            return result

        standin._methods["sendmessage"] = ("sendMessage", timed)
        started = time.monotonic()
        runner = asyncio.create_task(outbox.run())
        private_total = args.private_chats * args.per_private
        await standin.wait_for(
            lambda: sum(len(arrivals.get(c, [])) for c in privates) >= private_total, timeout=3600
        )
        private_done = time.monotonic() - started
        await asyncio.sleep(max(0.0, 61 - private_done))  # let the groups run a full minute
        outbox.stop()
        await runner
        await bot.session.close()
        await db.dispose()
    await standin.stop()

    everything = [t for times in arrivals.values() for t in times]
    notices = sum(1 for c in groups for m in standin.bot_messages(c) if "очереди" in (m.get("text") or ""))
    print(f"private chats: {args.private_chats} × {args.per_private} messages; groups: {args.groups} × {args.per_group}")
    print(f"private messages delivered: {private_total} in {private_done:.1f} s "
          f"→ {private_total / private_done:.1f} msg/s overall")
    print(f"busiest 1 s window overall: {busiest(everything, 1.0)} (limit 30)")
    print(f"busiest 1 s window in one private chat: {max(busiest(arrivals[c], 1.0) for c in privates)}")
    print(f"busiest 60 s window in one group: {max(busiest(arrivals.get(c, []), 60.0) for c in groups)} (limit 20); "
          f"group messages in the first minute: {[len(arrivals.get(c, [])) for c in groups]}; backlog notices: {notices}")
    print(f"429 answers from the stand-in: {len(standin.rate_limited)}")


if __name__ == "__main__":
    asyncio.run(main())
