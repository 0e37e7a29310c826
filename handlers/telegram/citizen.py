"""Citizens' private chats with the bot."""
from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message

from handlers.buttons import RATINGS, rate_appeal, rated_toast
from handlers.telegram.convert import parse_action, to_action, to_inbound
from routing import texts
from routing.desk import AppealDesk
from routing.inbound import looks_like_command


def citizen_router() -> Router:
    router = Router(name="telegram-citizen")
    # other bots can't be citizens: their messages are not answered and leave no trace
    router.message.filter(F.chat.type == "private", F.from_user.is_bot.is_(False))
    router.edited_message.filter(F.chat.type == "private", F.from_user.is_bot.is_(False))
    router.callback_query.filter(F.message.chat.type == "private")

    @router.message(CommandStart())
    async def start(message: Message, desk: AppealDesk) -> None:
        await desk.citizen_start(to_inbound(message))

    @router.message(Command("help"))
    async def help_(message: Message, desk: AppealDesk) -> None:
        await desk.citizen_help(to_inbound(message))

    @router.message(Command("new"))
    async def new(message: Message, desk: AppealDesk) -> None:
        await desk.citizen_new(to_inbound(message))

    @router.message(Command("my"))
    async def my(message: Message, desk: AppealDesk) -> None:
        await desk.citizen_list(to_inbound(message))

    @router.message(Command("forget"))
    async def forget(message: Message, desk: AppealDesk) -> None:
        await desk.privacy.prompt(to_inbound(message))

    @router.message()
    async def any_message(message: Message, desk: AppealDesk) -> None:
        if message.from_user is None or message.from_user.is_bot:
            return
        inbound = to_inbound(message)
        if not message.photo and looks_like_command(inbound.text):
            await desk.citizen_unknown_command(inbound)
            return
        await desk.citizen_message(inbound)

    @router.edited_message()
    async def edited(message: Message, desk: AppealDesk) -> None:
        await desk.citizen_edited(to_inbound(message, key=f"edit:{message.chat.id}:{message.message_id}:"
                                                        f"{message.edit_date or 0}"))

    @router.callback_query(F.data.startswith("place:"))
    async def place(query: CallbackQuery, desk: AppealDesk) -> None:
        action = to_action(query)
        parsed = parse_action(query.data or "", "place", 2)
        if action is None or parsed is None:
            await query.answer(texts.STALE_BUTTON)
            return
        result = await desk.choose_municipality(action, int(parsed[0]), parsed[1])
        await query.answer(result.toast, show_alert=result.alert)

    @router.callback_query(F.data.startswith("rate:"))
    async def rate(query: CallbackQuery, desk: AppealDesk) -> None:
        action = to_action(query)
        parsed = parse_action(query.data or "", "rate", 2)
        if action is None or parsed is None or parsed[1] not in RATINGS:
            await query.answer(texts.STALE_BUTTON)
            return
        result = await rate_appeal(desk, action, int(parsed[0]), parsed[1])
        await query.answer(result.toast, show_alert=result.alert)

    @router.callback_query(F.data.startswith("rated:"))
    async def rated(query: CallbackQuery) -> None:
        # the button a rated answer keeps shows the choice; pressing it only says it again
        await query.answer(rated_toast(parse_action(query.data or "", "rated", 2)))

    @router.callback_query(F.data.in_({"forget:yes", "forget:no"}))
    async def forget_press(query: CallbackQuery, desk: AppealDesk) -> None:
        action = to_action(query)
        if action is None:
            await query.answer(texts.STALE_BUTTON)
            return
        result = await desk.privacy.confirm(action, query.data == "forget:yes")
        await query.answer(result.toast, show_alert=result.alert)

    @router.callback_query()
    async def unknown(query: CallbackQuery) -> None:
        await query.answer(texts.STALE_BUTTON)

    return router
