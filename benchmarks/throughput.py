"""Benchmark: 2,000 citizen messages through the Bot API stand-in, Otklik against a bare aiogram
bot that only answers "ok". Prints throughput (appeals/s until every acknowledgement is sent) on a
burst, and p50/p99 latency from update to acknowledgement at a steady rate below capacity.

    python benchmarks/throughput.py [--messages 2000] [--rate 200] [--database-url URL]

The stand-in and the simulated citizens run in a separate process (as Telegram would), so the
figures are the bot's own. Not a test: it prints figures. Default database: a fresh SQLite file
in a temp folder.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

from bot.app import OtklikApp
from bot.config import load_config
from bot.limits import DeliveryConfig
from bot.sandbox import prepare_world
from bot.standin.telegram import TelegramStandin

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = [
    "В Рыбинске на улице Крестовой яма на дороге, дом {i}",
    "Ярославль, Тутаевское шоссе {i}: нет горячей воды, УК не отвечает",
    "Углич, улица Ярославская {i}: не вывозят мусор, контейнеры переполнены",
    "Тутаев, дом {i}: во дворе не горят фонари",
    "Переславль-Залесский, ул. Свободы {i}: автобус №3 не ходит по расписанию",
]


class TimedStandin(TelegramStandin):
    """The stand-in, noting when each private chat first hears the acknowledgement."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.sent_at: dict[int, float] = {}
        self.acked_at: dict[int, float] = {}

    def send(self, user: int, text: str) -> None:
        self.sent_at[user] = time.perf_counter()
        self.user_sends(user, user, text)

    def _m_send_message(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        result = super()._m_send_message(params, uploads)
        chat = int(params["chat_id"])
        if chat > 0 and chat not in self.acked_at and self.marker in str(params.get("text", "")):
            self.acked_at[chat] = time.perf_counter()
        return result


async def _drive(standin: TimedStandin, users: range, rate: float | None) -> tuple[float, list[float]]:
    """Send one message per user (all at once, or at `rate` per second); wait for every ack."""
    start = time.perf_counter()
    for n, user in enumerate(users):
        standin.send(user, TEMPLATES[n % len(TEMPLATES)].format(i=n))
        if rate:
            delay = start + (n + 1) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        elif n % 200 == 199:
            await asyncio.sleep(0)
    await standin.wait_for(lambda: all(u in standin.acked_at for u in users), timeout=600)
    elapsed = max(standin.acked_at[u] for u in users) - start
    latencies = [(standin.acked_at[u] - standin.sent_at[u]) * 1000 for u in users]
    return elapsed, latencies


def _standin_process(conn: Connection, marker: str, with_world: bool) -> None:
    """The stand-in and the simulated citizens live in their own process, as Telegram does."""

    async def serve() -> None:
        standin = TimedStandin(marker)
        base = await standin.start()
        if with_world:
            prepare_world(standin, load_config(ROOT / "config.yaml"))
        conn.send(base)
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command[0] == "stop":
                counts = sum(len(standin.bot_messages(c)) for c in standin.chats() if c < 0)
                conn.send(counts)
                break
            _, first, count, rate = command
            conn.send(await _drive(standin, range(first, first + count), rate))
        await standin.stop()

    asyncio.run(serve())


class RemoteStandin:
    def __init__(self, marker: str, with_world: bool) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_standin_process, args=(child, marker, with_world), daemon=True)
        self.process.start()
        self.base_url: str = self.conn.recv()

    async def drive(self, first: int, count: int, rate: float | None) -> tuple[float, list[float]]:
        self.conn.send(("drive", first, count, rate))
        return await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)

    async def stop(self) -> int:
        self.conn.send(("stop",))
        group_messages = await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)
        self.process.join(10)
        return int(group_messages)


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _figures(messages: int, burst: float, latencies: list[float]) -> dict[str, float]:
    return {"throughput": messages / burst, "p50": _pct(latencies, 50), "p99": _pct(latencies, 99)}


async def bench_otklik(messages: int, rate: float, database_url: str | None) -> dict[str, float]:
    # the outgoing rate limits (Telegram's 30 messages/s overall …) are off: this measures the bot
    config = load_config(ROOT / "config.yaml")
    config = config.model_copy(update={"delivery": DeliveryConfig(rate_limits=False)})
    remote = RemoteStandin("принято", with_world=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        app = OtklikApp(config, token=TelegramStandin().token, api_url=remote.base_url, database_url=url,
                        polling_timeout=1)
        await app.start()
        try:
            burst, _ = await remote.drive(100_000, messages, None)
            await asyncio.sleep(0.5)
            _, latencies = await remote.drive(200_000, messages, rate)
        finally:
            await app.stop()
            cards = await remote.stop()
    return {**_figures(messages, burst, latencies), "cards": cards}


async def bench_bare(messages: int, rate: float) -> dict[str, float]:
    remote = RemoteStandin("ok", with_world=False)
    bot = Bot(TelegramStandin().token, session=AiohttpSession(api=TelegramAPIServer.from_base(remote.base_url)))
    dp = Dispatcher()

    @dp.message()
    async def answer(message: Message) -> None:
        await message.answer("ok")

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        burst, _ = await remote.drive(100_000, messages, None)
        await asyncio.sleep(0.5)
        _, latencies = await remote.drive(200_000, messages, rate)
    finally:
        await dp.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await bot.session.close()
        await remote.stop()
    return _figures(messages, burst, latencies)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="messages/s for the latency phase")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bare = await bench_bare(args.messages, args.rate)
    otklik = await bench_otklik(args.messages, args.rate, args.database_url)
    print(f"messages per phase: {args.messages}; latency phase at {args.rate:.0f} msg/s")
    print(f"{'':10} {'appeals/s (burst)':>18} {'p50 ms':>8} {'p99 ms':>8}")
    for name, r in (("bare bot", bare), ("Otklik", otklik)):
        print(f"{name:10} {r['throughput']:18.0f} {r['p50']:8.1f} {r['p99']:8.1f}")
    print(f"throughput ratio Otklik/bare: {otklik['throughput'] / bare['throughput']:.2f} (target >= 0.5)")
    print(f"Otklik p99: {otklik['p99']:.1f} ms (target < 50 ms)")
    print(f"messages delivered to group chats (cards) by the end: {otklik['cards']:.0f}")


if __name__ == "__main__":
    asyncio.run(main())
