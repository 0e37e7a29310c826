"""Erasing a citizen's personal data (152-ФЗ: the right to have it destroyed), keeping the
appeals' facts — category, municipality, account, timestamps, status, rating — so ratings and
statistics still count them.

What goes: the citizen's name, platform ids and chat id; the texts, photos and locations of their
messages and appeals; their messages' links and ids; what the outbox keeps of messages to them
and of cards about their appeals; the processed-update keys that name their chat. Pending messages
to them are dropped with a recorded reason, and nothing new can reach them (repository.enqueue
skips a forgotten chat). The cards in the officials' chats are edited to a placeholder. What
stays: officials' own answers (the public body's words) and every status, timestamp and event."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from routing import texts
from routing.inbound import ActionResult, Button, InboundAction, InboundMessage, Keyboard
from routing.lifecycle import OPEN
from storage import repository as repo
from storage.models import (
    Appeal,
    AppealEvent,
    AppealMessage,
    Citizen,
    MessageLink,
    OutboxMessage,
    ProcessedUpdate,
)

DROPPED = "dropped"  # outbox status of a message that will never be sent, with the reason in `error`
DROP_REASON = "dropped: the citizen's personal data was erased"
ERASED_ACTOR = "заявитель (данные удалены)"
# links in the citizen's own chat; the officials' cards keep theirs, so an old card still finds its appeal
CITIZEN_LINK_ROLES = ("citizen", "ack", "answer")
CARD_ROLES = ("card", "triage_card")
# what else the officials' chats got of the citizen's: taken out of them on erasure
ERASED_PURPOSES = ("card_photo", "card_location", "followup")
_USER_REF = re.compile(r"^(tg|vk):(\d{1,20})$")
_APPEAL_REF = re.compile(r"^(?:#|№|appeal:)\s*(\d{1,12})$")


@dataclass
class ForgetReport:
    citizen_id: int
    appeals: int = 0
    messages: int = 0
    outbox_dropped: int = 0
    outbox_scrubbed: int = 0
    links_removed: int = 0
    cards_edited: int = 0
    parts_erased: int = 0  # the cards' photos and places, follow-ups: taken out of the officials' chats
    already: bool = False

    def summary(self) -> str:
        if self.already:
            return f"citizen {self.citizen_id}: personal data was already erased"
        return (
            f"citizen {self.citizen_id}: erased {self.appeals} appeal(s), {self.messages} message(s); "
            f"{self.outbox_dropped} pending message(s) dropped, {self.outbox_scrubbed} outbox row(s) scrubbed, "
            f"{self.links_removed} link(s) removed, {self.cards_edited} card(s) edited, "
            f"{self.parts_erased} photo(s), place(s) and follow-up(s) taken out of the officials' chats"
        )


def parse_citizen_ref(ref: str) -> tuple[str, str] | tuple[str, int]:
    """'tg:123' -> ('tg', '123'); '#45', '№45', 'appeal:45' -> ('appeal', 45). ValueError otherwise."""
    ref = ref.strip()
    found = _USER_REF.match(ref)
    if found:
        return found.group(1), found.group(2)
    found = _APPEAL_REF.match(ref)
    if found:
        return "appeal", int(found.group(1))
    raise ValueError(f"expected tg:<user id>, vk:<user id> or #<appeal number>; got {ref!r}")


async def find_citizen(s: AsyncSession, ref: str) -> Citizen | None:
    kind, value = parse_citizen_ref(ref)
    if kind == "appeal":
        appeal = await s.get(Appeal, int(value))
        return None if appeal is None else await s.get(Citizen, appeal.citizen_id)
    return await repo.citizen_by_user(s, kind, str(value))


def _scrubbed(payload: dict[str, Any]) -> dict[str, Any]:
    # only the shape stays: what kind of message it was and which appeal message it answered or edited
    keep = ("type", "link_role", "reply_to_role", "target_role")
    return {**{k: payload[k] for k in keep if k in payload}, "erased": True}


async def forget_citizen(s: AsyncSession, citizen: Citizen, now: datetime, *, by: str) -> ForgetReport:
    """Erase the citizen's personal data inside the caller's transaction. `by` says who asked
    ("citizen", "cli: …"); it goes into each appeal's history."""
    report = ForgetReport(citizen.id)
    if citizen.anonymised_at is not None:
        report.already = True
        return report
    await repo.flush_deferred(s)  # rows this transaction queued so far must be seen by the updates below
    platform, user_id, chat_id = citizen.platform, citizen.platform_user_id, citizen.chat_id
    marker = f"{repo.FORGOTTEN_CHAT}{citizen.id}"

    appeals = list((await s.execute(select(Appeal).where(Appeal.citizen_id == citizen.id))).scalars())
    ids = [a.id for a in appeals]
    report.appeals = len(appeals)
    for appeal in appeals:
        appeal.text = texts.FORGOTTEN_TEXT if appeal.text else ""
        appeal.photos = []
        appeal.latitude = appeal.longitude = None
        appeal.source_message_id = None
        if appeal.status in OPEN:
            # nobody can act on an erased appeal, nor tell its author: no reminders, no escalation
            appeal.sla_term = None
            appeal.next_alert_at = None
            appeal.next_alert_stage = None
        repo.add_event(s, appeal.id, now, "system", "personal_data_erased", None, None, {"by": by})

    if ids:
        erased = await s.execute(
            update(AppealMessage)
            .where(AppealMessage.appeal_id.in_(ids), AppealMessage.author_role == "citizen")
            .values(
                text=case((AppealMessage.text != "", texts.FORGOTTEN_TEXT), else_=""),
                photos=[], latitude=None, longitude=None, author_id=None, author_name=None,
                chat_id=marker, message_id=None, media_group=None,
            )
            .execution_options(synchronize_session=False)
        )
        report.messages = erased.rowcount or 0
        await s.execute(
            update(AppealEvent)
            .where(AppealEvent.appeal_id.in_(ids),
                   or_(AppealEvent.actor == f"{platform}:{user_id}",
                       AppealEvent.actor.startswith(f"{platform}:{user_id} (", autoescape=True)))
            .values(actor=ERASED_ACTOR)
            .execution_options(synchronize_session=False)
        )

    # links in the citizen's chat, and the citizen-side links of the appeals wherever they are
    link_filter = (MessageLink.platform == platform) & (MessageLink.chat_id == chat_id)
    if ids:
        link_filter = link_filter | (MessageLink.appeal_id.in_(ids) & MessageLink.role.in_(CITIZEN_LINK_ROLES))
    removed = await s.execute(delete(MessageLink).where(link_filter).execution_options(synchronize_session=False))
    report.links_removed = removed.rowcount or 0

    # the outbox: what was or would be said to the citizen, and every message about their appeals
    to_citizen = (OutboxMessage.platform == platform) & (OutboxMessage.chat_id == chat_id)
    about = to_citizen | OutboxMessage.appeal_id.in_(ids) if ids else to_citizen
    rows = (
        await s.execute(
            select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.payload, OutboxMessage.platform,
                   OutboxMessage.chat_id).where(about)
        )
    ).all()
    changes: list[dict[str, Any]] = []
    for row_id, status, payload, row_platform, row_chat in rows:
        change: dict[str, Any] = {"id": row_id, "payload": _scrubbed(payload or {})}
        if row_platform == platform and row_chat == chat_id:
            change["chat_id"] = marker
        if status == "pending":
            # a message in flight ("sending") is left to finish: at most that one still goes out
            change.update(status=DROPPED, error=DROP_REASON)
            report.outbox_dropped += 1
        else:
            report.outbox_scrubbed += 1
        changes.append(change)
    if changes:
        await s.execute(update(OutboxMessage), changes)

    # processed-update keys such as "msg:<chat>:<id>" name the citizen's chat
    await s.execute(
        delete(ProcessedUpdate)
        .where(ProcessedUpdate.platform == platform,
               or_(ProcessedUpdate.key.startswith(f"msg:{chat_id}:", autoescape=True),
                   ProcessedUpdate.key.startswith(f"edit:{chat_id}:", autoescape=True)))
        .execution_options(synchronize_session=False)
    )

    # the officials' cards show the citizen's name and words: replace them with a placeholder
    if ids:
        # every copy: a card posted again with /card N leaves the earlier one in the chat as well
        cards = (
            await s.execute(
                select(MessageLink.appeal_id, MessageLink.platform, MessageLink.chat_id, MessageLink.message_id)
                .where(MessageLink.appeal_id.in_(ids), MessageLink.role.in_(CARD_ROLES))
                .distinct()
            )
        ).all()
        # and the «продолжение» messages of a long text, found by what the outbox sent
        pieces = [*cards]
        for appeal_id in ids:
            pieces += [(appeal_id, p, c, m) for p, c, sent in await repo.sent_messages(s, appeal_id, "card_more")
                       for m in sent]
        for appeal_id, card_platform, card_chat, message_id in sorted(set(pieces), key=str):
            repo.enqueue(
                s, card_platform, card_chat, "card_erased",
                {"type": "edit", "message_id": message_id, "text": texts.FORGOTTEN_CARD.format(number=appeal_id),
                 "keyboard": None},
                appeal_id=appeal_id, now=now,
            )
            report.cards_edited += 1
        # the card's photos and place, and the follow-ups copied to the officials (text, photo,
        # place): deleted, or overwritten where the platform no longer lets the bot delete them
        for appeal_id in ids:
            for part_platform, part_chat, sent in await repo.sent_messages(s, appeal_id, *ERASED_PURPOSES):
                for message_id in sent:
                    repo.enqueue(
                        s, part_platform, part_chat, "part_erased",
                        {"type": "erase", "message_id": message_id,
                         "text": texts.FORGOTTEN_PART.format(number=appeal_id)},
                        appeal_id=appeal_id, now=now,
                    )
                    report.parts_erased += 1

    citizen.display_name = None
    citizen.platform_user_id = marker
    citizen.chat_id = marker
    citizen.mode = None
    citizen.anonymised_at = now
    known = s.info.get("citizens")
    if known is not None:
        # a later message of this person in the same batch starts a new citizen, not this erased one
        known[(platform, user_id)] = None
    return report


class PrivacyDesk:
    """The citizen's `/forget`: a prompt with a confirmation button, then the erasure."""

    def __init__(self, db: Any, clock: Any, notify: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self.clock = clock
        self.notify = notify

    async def prompt(self, msg: InboundMessage) -> None:
        now = self.clock.now()
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, msg.platform, msg.key, now):
                return
            citizen = await repo.citizen_by_user(s, msg.platform, msg.sender.user_id)
            if citizen is None:
                body: dict[str, Any] = {"type": "text", "text": texts.FORGET_NOTHING}
            else:
                keyboard = Keyboard([[Button(texts.FORGET_CONFIRM, "forget:yes"),
                                      Button(texts.FORGET_CANCEL, "forget:no")]])
                body = {"type": "text", "text": texts.FORGET_PROMPT, "keyboard": keyboard.to_payload()}
            repo.enqueue(s, msg.platform, msg.chat_id, "forget_prompt", body, now=now)
        self.notify()

    async def confirm(self, act: InboundAction, erase: bool) -> ActionResult:
        """A press on the prompt. The answer is the press's own toast: a message to the chat would
        write the citizen's chat id back into the outbox right after erasing it."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            if not await repo.mark_processed(s, act.platform, act.key, now):
                return ActionResult()
            citizen = await repo.citizen_by_user(s, act.platform, act.sender.user_id)
            if citizen is None:
                return ActionResult(texts.FORGET_NOTHING)
            if citizen.chat_id != act.chat_id:
                # only the citizen, in their own chat with the bot, erases their data
                return ActionResult(texts.NOT_YOURS)
            if not erase:
                # the prompt loses its buttons and says so: «Да, удалить» must not stay live under it
                repo.enqueue(s, act.platform, act.chat_id, "forget_cancelled",
                             {"type": "edit", "message_id": act.message_id, "keyboard": None,
                              "text": texts.FORGET_PROMPT_CANCELLED}, now=now)
                self.notify()
                return ActionResult(texts.FORGET_CANCELLED)
            await forget_citizen(s, citizen, now, by="citizen")
        self.notify()
        return ActionResult(texts.FORGET_DONE, alert=True)
