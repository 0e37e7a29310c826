"""Helpers for the abuse, property, crash and fault tests: raw updates of kinds the stand-in's
user actions don't make, a config without outgoing rate limits, and a net for ERROR logs."""
from __future__ import annotations

import itertools
import logging
import re
import time
from collections import Counter
from typing import Any

from bot.config import OtklikConfig
from bot.standin.telegram import TelegramStandin

JSON = dict[str, Any]

# loggers whose ERROR records mean the bot mishandled something (the stand-in's own are not ours)
OUR_LOGGERS = ("aiogram", "bot", "handlers", "routing", "storage")
_message_ids = itertools.count(7_000_000)


def quick_config(
    config: OtklikConfig, *, flood: int | None = None, window: float | None = None, hold_answers: bool = False,
    ack_quiet: float | None = None,
) -> OtklikConfig:
    """The config with the outbox's rate limits off (these tests are about correctness, and the
    limits are tested on their own), answers that read as отписки not held back (unless asked),
    and, optionally, another flood limit or quiet time between follow-ups' acknowledgements."""
    update: dict[str, Any] = {}
    if "delivery" in type(config).model_fields:
        update["delivery"] = config.delivery.model_copy(update={"rate_limits": False})
    if not hold_answers:
        update["analytics"] = config.analytics.model_copy(update={"hold_flagged_answers": False})
    limits: dict[str, Any] = {}
    if flood is not None:
        limits["citizen_messages"] = flood
    if window is not None:
        limits["citizen_window_seconds"] = window
    if ack_quiet is not None:
        limits["followup_ack_quiet_seconds"] = ack_quiet
    if limits:
        update["limits"] = config.limits.model_copy(update=limits)
    return config.model_copy(update=update)


def user(user_id: int, *, is_bot: bool = False, name: str | None = None) -> JSON:
    return {"id": user_id, "is_bot": is_bot, "first_name": name or f"user{user_id}"}


def private_chat(user_id: int) -> JSON:
    return {"id": user_id, "type": "private", "first_name": f"user{user_id}"}


def group_chat(chat_id: int, kind: str = "supergroup") -> JSON:
    return {"id": chat_id, "type": kind, "title": f"chat {chat_id}"}


def push(tg: TelegramStandin, kind: str, payload: JSON) -> int:
    """Queue a raw update of any kind; returns its update id."""
    update_id = tg._next_update_id  # the stand-in moves it past whatever push_update is given
    tg.push_update({"update_id": update_id, kind: payload})
    return update_id


def raw_message(chat: JSON, sender: JSON | None, **content: Any) -> JSON:
    """A message as the Bot API serialises it, with an id the stand-in's chats never use."""
    message: JSON = {"message_id": next(_message_ids), "date": int(time.time()), "chat": chat, **content}
    if sender is not None:
        message["from"] = sender
    return message


ADMIN_RIGHTS = {
    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True, "can_delete_messages": True,
    "can_manage_video_chats": False, "can_restrict_members": False, "can_promote_members": False,
    "can_change_info": False, "can_invite_users": True, "can_post_stories": False, "can_edit_stories": False,
    "can_delete_stories": False, "can_send_welcome_messages": False, "can_post_messages": True,
}


def chat_member(tg: TelegramStandin, status: str) -> JSON:
    member: JSON = {"status": status, "user": dict(tg.bot_user)}
    if status == "administrator":
        member.update(ADMIN_RIGHTS)
    return member


def bot_member_update(tg: TelegramStandin, chat: JSON, actor: JSON, old: str, new: str) -> JSON:
    return {
        "chat": chat, "from": actor, "date": int(time.time()),
        "old_chat_member": chat_member(tg, old), "new_chat_member": chat_member(tg, new),
    }


class ErrorNet(logging.Handler):
    """Catches ERROR records (and worse) from our loggers and aiogram's."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(OUR_LOGGERS) and not record.name.startswith("bot.standin"):
            self.records.append(record)

    def __enter__(self) -> ErrorNet:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)

    def report(self) -> str:
        return "\n".join(
            f"{r.name}: {r.getMessage()}" + (f"\n{self.format(r)}" if r.exc_info else "") for r in self.records[:5]
        )


def user_posts(tg: TelegramStandin, chat_id: int, user_id: int, **content: Any) -> JSON:
    """A user posts content of any kind (a document, a contact...) that `user_sends` does not
    make: stored in the chat like any message (so ids keep their order) and queued for the bot."""
    if chat_id not in tg._chats:
        tg.add_chat(chat_id)
    chat = tg._chats[chat_id]
    msg = tg._store(chat, tg._user(user_id), content)
    tg._queue("message", tg._api_message(chat, msg))
    tg._bump()
    return tg._log_view(chat, msg)


def card_numbers(messages: list[JSON]) -> Counter[int]:
    """How many cards of each appeal: a card's first line is "№N" (or "№N · 🔥 срочное"); a
    triage card has a line or two above it."""
    found: Counter[int] = Counter()
    for m in messages:
        for line in (m.get("text") or m.get("caption") or "").split("\n")[:3]:
            match = re.fullmatch(r"№(\d+)( · .*)?", line)
            if match:
                found[int(match.group(1))] += 1
                break
    return found
