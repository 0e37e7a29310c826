"""Property: thousands of random, well-formed updates — citizens' texts in any script with
markup-like fragments, commands, photos and albums, locations, replies to any message id,
stickers and other media, edits, officials' and strangers' messages and replies in the groups,
button presses with real or forged data — go through the real polling loop and dispatcher.
Nothing may end in an unhandled error, every private message gets at least one answer after it,
every button press is answered, and no outgoing message is refused by Telegram."""
from __future__ import annotations

import asyncio
import itertools
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import OtklikConfig
from tests.conftest import CITIZEN, OFFICIAL, STRANGER, Stand
from tests.e2e.support import ErrorNet, quick_config, user_posts

CITIZENS = [CITIZEN + 50_000 + i for i in range(24)]
ACCOUNTS = ["adm_rybinsk", "adm_uglichsky", "adm_yaroslavl"]
EXAMPLES = int(os.environ.get("OTKLIK_PROPERTY_EXAMPLES", "100"))
STEPS_PER_EXAMPLE = (15, 50)

FRAGMENTS = [
    "<b>", "</b>", "<i>x</i>", "&amp;", "&lt;", "&", "<", ">", "*bold*", "_it_", "`code`", "```", "[a](http://x)",
    "||s||", "~~s~~", "\\", "'; DROP TABLE appeals; --", "\"", "%s", "{0}", "\u200b", "\u200f", "\u202e", "\ufeff",
    "🕳", "👍🏽", "e\u0301", "\n", "\t", "  ", "№12", "/my", "@otklik_bot", "https://t.me/x",
    "яма", "Рыбинск", "Углич", "на улице Ленина", "שלום", "مرحبا", "中文", "\u2800",
]
REALISTIC = [
    "В Рыбинске на улице Крестовой огромная яма на дороге",
    "В Угличе не горят фонари на улице Ярославской",
    "Во дворе не вывозят мусор уже неделю",
    "Нет горячей воды третий день, Ярославль, Ленинградский проспект 50",
    "Пахнет газом в подъезде!",
]
COMMANDS = ["/start", "/help", "/new", "/my", "/start abc", "/my@otklik_bot", "/unknown", "/open", "/forget"]
GROUP_COMMANDS = ["/open", "/overdue", "/rating", "/problems", "/start", "/start nonsense", "/help", "/my"]
FORGED = ["", "x", "place:1:rybinsky", "rate:1:yes", "rate:1:no", "rate:2:part", "take:1", "reject:1", "interim:1",
          "route:1:adm_rybinsk", "qsend:1", "qredo:1", "place:abc:x", "rate:-1:yes", ":", "take:99999999999999999999",
          "forget:yes", "forget:no", "route:1:../../etc", "𝕏" * 16]

unicode_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=120)
markup_text = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12).map("".join)
any_text = st.one_of(unicode_text, markup_text, st.sampled_from(REALISTIC),
                     st.tuples(st.sampled_from(REALISTIC), markup_text).map(" ".join))
pick = st.integers(min_value=0, max_value=10_000)  # an index into whatever exists when the step runs

private_step = st.one_of(
    st.tuples(st.just("say"), any_text, st.one_of(st.none(), st.just(-1), pick)),
    st.tuples(st.just("photo"), st.one_of(st.none(), any_text), st.integers(1, 3)),
    st.tuples(st.just("location"), st.floats(-90, 90), st.floats(-180, 180)),
    st.tuples(st.just("location"), st.floats(56.5, 58.9), st.floats(37.5, 41.0)),  # in the region
    st.tuples(st.just("media"), st.sampled_from(["sticker", "voice", "document", "contact", "video_note", "dice",
                                                 "venue", "captioned_document"])),
    st.tuples(st.just("command"), st.sampled_from(COMMANDS)),
    st.tuples(st.just("edit"), pick, any_text),
    st.tuples(st.just("press"), pick, st.one_of(st.just(None), st.sampled_from(FORGED))),
)
group_step = st.one_of(
    st.tuples(st.just("group_say"), any_text, st.one_of(st.none(), st.just(-1), pick)),
    st.tuples(st.just("group_command"), st.sampled_from(GROUP_COMMANDS)),
    st.tuples(st.just("group_press"), pick, st.one_of(st.just(None), st.sampled_from(FORGED))),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("private"), st.sampled_from(CITIZENS), private_step),
        st.tuples(st.just("group"), st.sampled_from(ACCOUNTS), st.sampled_from([OFFICIAL, STRANGER]), group_step),
    ),
    min_size=STEPS_PER_EXAMPLE[0], max_size=STEPS_PER_EXAMPLE[1],
)


@pytest.fixture
def config(config: OtklikConfig) -> OtklikConfig:
    # the flood limit would (rightly) leave some messages unanswered; it has tests of its own
    # every message owes an answer here: follow-ups in a row are acknowledged each (the quiet time
    # between acknowledgements has its own test, test_bad_input's flood test)
    return quick_config(config, flood=0, hold_answers=True, ack_quiet=0)


@dataclass
class Tally:
    """What the steps of one example owe: answers per private chat, answers to button presses."""

    due: Counter[int] = field(default_factory=Counter)  # private chat -> messages needing an answer
    first_due: dict[int, int] = field(default_factory=dict)  # private chat -> its first such message id
    presses: list[str] = field(default_factory=list)
    edited: set[tuple[int, int]] = field(default_factory=set)
    updates: int = 0

    def owe(self, chat: int, message: dict[str, Any]) -> None:
        self.due[chat] += 1
        self.first_due.setdefault(chat, message["message_id"])


class World:
    def __init__(self, stand: Stand) -> None:
        self.stand = stand
        self.tg = stand.tg

    def buttons(self, chat: int) -> list[tuple[int, str]]:
        return [(m["message_id"], b["callback_data"]) for m in self.tg.bot_messages(chat)
                for row in (m.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
                if "callback_data" in b]

    def reply_target(self, chat: int, choice: int | None) -> int | None:
        if choice is None:
            return None
        mine = self.tg.bot_messages(chat)
        if choice == -1:
            return 999_999  # an id the chat does not have: Telegram's shape for it is a bare stub
        if not mine:
            return choice % 50 + 1  # whatever message that is, if any
        return int(mine[choice % len(mine)]["message_id"])

    def press(self, chat: int, user: int, choice: int, forged: str | None, tally: Tally) -> None:
        real = self.buttons(chat)
        messages = self.tg.chat_log(chat)
        if forged is None and real:
            message_id, data = real[choice % len(real)]
        else:
            data = forged if forged is not None else "x"
            message_id = int(messages[choice % len(messages)]["message_id"]) if messages else choice + 1
        if not data:
            return  # Telegram never sends an empty callback_data
        tally.presses.append(self.tg.user_presses(chat, message_id, user, data))
        tally.updates += 1

    def private(self, citizen: int, step: tuple[Any, ...], tally: Tally) -> None:
        kind = step[0]
        tg = self.tg
        sent: dict[str, Any] | None = None
        if kind == "say":
            sent = tg.user_sends(citizen, citizen, step[1], reply_to=self.reply_target(citizen, step[2]))
        elif kind == "photo":
            caption, size = step[1], step[2]
            group = None
            if size > 1:
                group = f"album-{next(ALBUMS)}"  # unique, as Telegram's media_group_id is
            for part in range(size):
                message = tg.user_sends(citizen, citizen, photo=True, caption=caption if part == 0 else None,
                                        media_group_id=group)
                sent = sent or message
                tally.updates += 1
            tally.owe(citizen, sent)  # an album is answered once
            return
        elif kind == "location":
            sent = tg.user_sends(citizen, citizen, location=(step[1], step[2]))
        elif kind == "media":
            sent = self.media(citizen, step[1])
        elif kind == "command":
            sent = tg.user_sends(citizen, citizen, step[1])
        elif kind == "edit":
            theirs = [m for m in tg.chat_log(citizen) if m["from"]["id"] == citizen and ("text" in m or "photo" in m)
                      and (citizen, m["message_id"]) not in tally.edited]
            if not theirs:
                return
            target = theirs[step[1] % len(theirs)]
            tally.edited.add((citizen, target["message_id"]))  # a second edit in the same second is the same event
            tg.user_edits(citizen, target["message_id"], step[2])
            tally.owe(citizen, {"message_id": max(m["message_id"] for m in tg.chat_log(citizen))})
            tally.updates += 1
            return
        elif kind == "press":
            if tg.chat_log(citizen):
                self.press(citizen, citizen, step[1], step[2], tally)
            return
        assert sent is not None
        tally.owe(citizen, sent)
        tally.updates += 1

    def media(self, citizen: int, kind: str) -> dict[str, Any]:
        tg = self.tg
        if kind in ("sticker", "voice"):
            return tg.user_sends(citizen, citizen, **{kind: True})
        content: dict[str, Any] = {
            "document": {"document": {"file_id": "BQACdoc", "file_unique_id": "d1", "file_name": "a.pdf"}},
            "captioned_document": {"document": {"file_id": "BQACdoc", "file_unique_id": "d1"},
                                   "caption": REALISTIC[0]},
            "contact": {"contact": {"phone_number": "+70000000000", "first_name": "Иван"}},
            "video_note": {"video_note": {"file_id": "DQACvn", "file_unique_id": "v1", "length": 240, "duration": 2}},
            "dice": {"dice": {"emoji": "🎲", "value": 4}},
            "venue": {"venue": {"location": {"latitude": 57.53, "longitude": 38.33}, "title": "Площадь",
                                "address": "Углич, Успенская площадь"},
                      "location": {"latitude": 57.53, "longitude": 38.33}},
        }[kind]
        return user_posts(tg, citizen, citizen, **content)

    def group(self, chat: int, user: int, step: tuple[Any, ...], tally: Tally) -> None:
        kind = step[0]
        if kind == "group_say":
            self.tg.user_sends(chat, user, step[1], reply_to=self.reply_target(chat, step[2]))
        elif kind == "group_command":
            self.tg.user_sends(chat, user, step[1])
        elif kind == "group_press":
            self.press(chat, user, step[1], step[2], tally)
            return
        tally.updates += 1


async def settle(stand: Stand) -> None:
    assert stand.app is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        if stand.tg.pending_updates() == 0 and await stand.app.outbox.pending_count() == 0:
            await asyncio.sleep(0.05)
            if stand.tg.pending_updates() == 0 and await stand.app.outbox.pending_count() == 0:
                return
        await asyncio.sleep(0.02)
    raise TimeoutError("the bot did not settle")


TOTAL: Counter[str] = Counter()
ALBUMS = itertools.count(1)
MEDIA_KEYS = ("photo", "location", "sticker", "voice", "document", "contact", "video_note", "dice", "venue")


@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(plan=steps)
async def test_random_updates_never_break_the_bot(stand: Stand, plan: list[tuple[Any, ...]]) -> None:
    world = World(stand)
    for account in ACCOUNTS:
        stand.tg.set_member(stand.chat(account), STRANGER, "left")  # asks as a stranger; posting re-adds
    tally = Tally()
    with ErrorNet() as errors:
        for step in plan:
            if step[0] == "private":
                world.private(step[1], step[2], tally)
            else:
                world.group(stand.chat(step[1]), step[2], step[3], tally)
                stand.tg.set_member(stand.chat(step[1]), STRANGER, "left")
        await settle(stand)
    assert errors.records == [], errors.report()
    for chat, owed in tally.due.items():
        answers = [m for m in stand.tg.bot_messages(chat) if m["message_id"] > tally.first_due[chat]]
        assert len(answers) >= owed, (
            f"chat {chat}: {owed} messages due an answer, {len(answers)} answers; the chat ends with:\n"
            + "\n".join(f"  #{m['message_id']} {'bot' if m['from']['id'] == stand.tg.bot_id else 'citizen'}: "
                        f"{str(m.get('text') or m.get('caption') or [k for k in m if k in MEDIA_KEYS])[:80]!r}"
                        for m in stand.tg.chat_log(chat)[-8:])
        )
    unanswered = [q for q in tally.presses if q not in stand.tg.callback_answers]
    assert unanswered == [], f"{len(unanswered)} button presses never answered"
    failed = await stand.query("select purpose, error from outbox where status = 'failed'")
    assert failed == [], failed
    TOTAL["updates"] += tally.updates
    TOTAL["examples"] += 1


def test_the_property_saw_thousands_of_updates() -> None:
    # runs after the property (file order); when the property ran in full, it fed thousands
    if TOTAL["examples"] >= EXAMPLES:
        assert TOTAL["updates"] >= 2000, TOTAL
