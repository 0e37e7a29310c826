"""Account, triage and supervisors' group chats."""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from handlers.buttons import APPEAL_BUTTONS, TRIAGE_BUTTONS, appeal_use_case, triage_use_case
from handlers.telegram.convert import parse_action, to_action, to_inbound
from handlers.telegram.invites import on_unknown_group
from routing import texts
from routing.desk import AppealDesk
from routing.inbound import InboundAction

if TYPE_CHECKING:
    from bot.supervision import SupervisorDesk

log = logging.getLogger(__name__)
GROUPS = ("group", "supergroup")
APPEAL_BUTTON = rf"^({'|'.join(APPEAL_BUTTONS)}):"
TRIAGE_BUTTON = rf"^({'|'.join(TRIAGE_BUTTONS)}):"


class MembershipCheck:
    """Only members of a chat act in it. Asked of Telegram, remembered for a minute."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._cache: dict[tuple[int, int], tuple[float, bool]] = {}

    async def is_member(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        now = time.monotonic()
        cached = self._cache.get((chat_id, user_id))
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except Exception:  # when Telegram can't say, refuse rather than let a stranger act
            log.warning("getChatMember failed for chat %s", chat_id, exc_info=True)
            return False
        status = member.status
        ok = status in (ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER) or (
            status == ChatMemberStatus.RESTRICTED and bool(getattr(member, "is_member", False))
        )
        self._cache[(chat_id, user_id)] = (now, ok)
        return ok


def staff_router(membership: MembershipCheck) -> Router:
    router = Router(name="telegram-staff")
    router.message.filter(F.chat.type.in_(GROUPS), from_a_person_or_the_group)
    router.callback_query.filter(F.message.chat.type.in_(GROUPS))

    @router.message(Command("open"))
    async def open_list(message: Message, desk: AppealDesk) -> None:
        await desk.open_list(to_inbound(message))

    @router.message(Command("help"))
    async def help_(message: Message, desk: AppealDesk) -> None:
        await desk.staff_help(to_inbound(message))

    @router.message(Command("card"))
    async def card_again(message: Message, desk: AppealDesk) -> None:
        await desk.show_card(to_inbound(message))

    @router.message(Command("overdue"))
    async def overdue_list(message: Message, desk: AppealDesk) -> None:
        await desk.deadlines.overdue_list(to_inbound(message))

    @router.message(Command("rating", "problems", "routing"))
    async def supervisors_chart(message: Message, supervision: SupervisorDesk | None = None) -> None:
        if supervision is not None and message.text:
            word = message.text.lstrip("/").lower()
            what = next((w for w in ("rating", "routing") if word.startswith(w)), "problems")
            await supervision.command(to_inbound(message), what)

    @router.message(F.reply_to_message)
    async def reply(message: Message, desk: AppealDesk, bot: Bot) -> None:
        user = message.from_user
        if user is None or desk.chat_role("tg", str(message.chat.id)).kind == "unknown":
            return
        inbound = to_inbound(message)
        if message.sender_chat is not None:
            # anonymous admins (Telegram sends them from @GroupAnonymousBot, a bot) and linked
            # channels: an answer must have a person behind it, so say why it was not taken
            await desk.refuse(inbound, texts.ANSWER_REFUSED_ANONYMOUS)
            return
        if user.is_bot:
            return
        if not await membership.is_member(bot, message.chat.id, user.id):
            await desk.refuse(inbound, texts.ANSWER_REFUSED_NOT_MEMBER)
            return
        await desk.staff_message(inbound)

    async def act(query: CallbackQuery, bot: Bot) -> bool:
        if query.message is None or not await membership.is_member(bot, query.message.chat.id, query.from_user.id):
            await query.answer(texts.ANSWER_REFUSED_NOT_MEMBER, show_alert=True)
            return False
        return True

    async def pressed(query: CallbackQuery, bot: Bot, verb: str, parts: int) -> tuple[InboundAction, list[str]] | None:
        """The press as an action and its arguments; None (the presser told why) for a malformed or
        stale button, or a presser who is not a member of the chat."""
        action, parsed = to_action(query), parse_action(query.data or "", verb, parts)
        if action is None or parsed is None:
            await query.answer(texts.STALE_BUTTON)
            return None
        if not await act(query, bot):
            return None
        return action, parsed

    @router.callback_query(F.data.regexp(APPEAL_BUTTON))
    async def appeal_button(query: CallbackQuery, desk: AppealDesk, bot: Bot) -> None:
        verb = (query.data or "").split(":", 1)[0]
        press = await pressed(query, bot, verb, 1)
        if press is not None:
            result = await appeal_use_case(desk, verb)(press[0], int(press[1][0]))
            await query.answer(result.toast, show_alert=result.alert)

    @router.callback_query(F.data.regexp(TRIAGE_BUTTON))
    async def triage_button(query: CallbackQuery, desk: AppealDesk, bot: Bot) -> None:
        verb = (query.data or "").split(":", 1)[0]
        press = await pressed(query, bot, verb, 2)
        if press is not None:
            result = await triage_use_case(desk, verb)(press[0], int(press[1][0]), press[1][1])
            await query.answer(result.toast, show_alert=result.alert)

    @router.callback_query()
    async def unknown(query: CallbackQuery) -> None:
        await query.answer(texts.STALE_BUTTON)

    @router.my_chat_member(F.chat.type.in_(GROUPS))
    async def added(event: ChatMemberUpdated, desk: AppealDesk, bot: Bot) -> None:
        # a bot added to a group nobody configured would leak appeals' data into it: leave
        joined = event.new_chat_member.status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR)
        if joined and desk.chat_role("tg", str(event.chat.id)).kind == "unknown":
            # unless an invite link brought it: then /start <code> follows (see handlers.telegram.invites)
            await on_unknown_group(bot, desk, event.chat.id)
        elif event.new_chat_member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.KICKED):
            # removed from a chat the centre relies on: the ЦУР hears of it now, not at the first lost card
            who = event.from_user.full_name if event.from_user else None
            await desk.bot_removed("tg", str(event.chat.id), f"removed:{event.chat.id}:{int(event.date.timestamp())}",
                                   who)

    @router.my_chat_member(F.chat.type == "channel")
    async def added_to_channel(event: ChatMemberUpdated, bot: Bot) -> None:
        # the bot never works in channels (nobody there can answer an appeal): leave any it is put in
        joined = event.new_chat_member.status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR)
        if joined:
            log.warning("added to channel %s; leaving", event.chat.id)
            try:
                await bot.leave_chat(event.chat.id)
            except TelegramAPIError as exc:  # removed again meanwhile: nothing left to leave
                log.warning("could not leave channel %s: %s", event.chat.id, exc)

    return router


def from_a_person_or_the_group(message: Message) -> bool:
    """Group messages from other bots are ignored (they could talk to ours in a loop). Messages
    posted as a chat — an anonymous admin or a channel, which Telegram shows as sent by a bot — are
    not: an answer posted so is refused with a reason (see `reply`)."""
    if message.sender_chat is not None:
        return True
    return message.from_user is not None and not message.from_user.is_bot
