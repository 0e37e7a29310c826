"""VK adapter: turns Bots Long Poll events into lifecycle calls and nothing more."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handlers.vk import citizen, staff
from handlers.vk.convert import command_of, event_key, is_chat, to_action, to_inbound
from routing import texts
from routing.desk import AppealDesk

if TYPE_CHECKING:
    from bot.supervision import SupervisorDesk

log = logging.getLogger(__name__)
JSON = dict[str, Any]
HANDLED = ("message_new", "message_event")


@dataclass(frozen=True)
class PressAnswer:
    """What to show a person who pressed a callback button (messages.sendMessageEventAnswer)."""

    event_id: str
    user_id: int
    peer_id: int
    text: str | None


class VkDispatcher:
    def __init__(self, desk: AppealDesk, supervision: SupervisorDesk | None = None) -> None:
        self.desk = desk
        self.supervision = supervision  # /rating and /problems in the supervisors' chat

    @staticmethod
    def people(events: Iterable[JSON]) -> set[int]:
        """Whose names the events need (one users.get for a whole batch)."""
        found: set[int] = set()
        for raw in events:
            obj = raw.get("object") or {}
            if raw.get("type") == "message_new":
                found.add(int((obj.get("message") or {}).get("from_id") or 0))
            elif raw.get("type") == "message_event":
                found.add(int(obj.get("user_id") or 0))
        return {p for p in found if p > 0}

    async def feed(self, raw: JSON, names: dict[int, str]) -> PressAnswer | None:
        kind = raw.get("type")
        obj = raw.get("object") or {}
        key = event_key(raw)
        if kind == "message_new" and key is not None:
            message = obj.get("message") or {}
            inbound = to_inbound(message, names, key=key)
            if is_chat(int(message["peer_id"])):
                await staff.on_message(self.desk, inbound, command_of(message), self.supervision)
            elif not message.get("action"):
                await citizen.on_message(self.desk, inbound, command_of(message))
            return None
        if kind == "message_event" and key is not None:
            peer_id = int(obj["peer_id"])
            action = to_action(obj, names, key=key)
            if action is None:
                toast: str | None = texts.STALE_BUTTON
            else:
                toast = await (staff if is_chat(peer_id) else citizen).on_press(self.desk, action)
            return PressAnswer(str(obj.get("event_id")), int(obj["user_id"]), peer_id, toast)
        if kind == "message_reply" and obj.get("admin_author_id") and not obj.get("random_id"):
            # a community manager wrote by hand in a dialog: outside the bot, so no appeal records it
            log.info("VK: a community manager wrote in peer %s by hand", obj.get("peer_id"))
        return None
