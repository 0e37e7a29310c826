"""The Telegram Bot API stand-in, driven by the real aiogram client (and a real Dispatcher)."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)

from bot.standin.telegram import TelegramStandin
from bot.standin.telegram_html import EntityParseError, parse_html, utf16_len
from bot.standin.telegram_media import image_size, make_png

CITIZEN = 1001
OFFICIAL = 2001
GROUP = -1001000000001


@pytest.fixture
async def tg() -> AsyncIterator[TelegramStandin]:
    standin = TelegramStandin()
    await standin.start()
    standin.add_user(CITIZEN, "Мария", username="maria")
    standin.add_user(OFFICIAL, "Иван", last_name="Петров")
    standin.add_chat(GROUP, type="supergroup", title="Администрация")
    try:
        yield standin
    finally:
        await standin.stop()


def make_bot(tg: TelegramStandin, *, timeout: float = 5.0, token: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url), timeout=timeout)
    return Bot(token or tg.token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


@pytest.fixture
async def bot(tg: TelegramStandin) -> AsyncIterator[Bot]:
    client = make_bot(tg)
    try:
        yield client
    finally:
        await client.session.close()


async def raw_call(
    tg: TelegramStandin, method: str, *, token: str | None = None, **json_body: Any
) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        url = f"{tg.base_url}/bot{token or tg.token}/{method}"
        async with http.post(url, json=json_body) as resp:
            return resp.status, await resp.json()


# ---------------------------------------------------------------- protocol basics


async def test_get_me_token_and_unknown_method(tg: TelegramStandin, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (tg.bot_id, "otklik_bot", True)

    intruder = make_bot(tg, token="999:WRONG")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await intruder.get_me()
    finally:
        await intruder.session.close()

    status, body = await raw_call(tg, "sendTelepathy", chat_id=CITIZEN)
    assert status == 404 and body == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_json_bodies_and_case_insensitive_methods(tg: TelegramStandin) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "/start")
    status, body = await raw_call(
        tg,
        "SENDMESSAGE",
        chat_id=CITIZEN,
        text="<b>Привет</b>",
        parse_mode="HTML",
        reply_markup={"inline_keyboard": [[{"text": "Да", "callback_data": "yes"}]]},
    )
    assert status == 200 and body["ok"] is True
    sent = body["result"]
    assert sent["text"] == "Привет" and sent["entities"] == [{"type": "bold", "offset": 0, "length": 6}]
    assert sent["chat"] == {"id": CITIZEN, "type": "private", "first_name": "Мария", "username": "maria"}
    assert tg.calls[-1] == (
        "sendMessage",
        {
            "chat_id": CITIZEN,
            "text": "<b>Привет</b>",
            "parse_mode": "HTML",
            "reply_markup": {"inline_keyboard": [[{"text": "Да", "callback_data": "yes"}]]},
        },
    )


# ---------------------------------------------------------------- getUpdates


async def test_get_updates_offset_confirms_forever(tg: TelegramStandin, bot: Bot) -> None:
    for text in ("один", "два", "три"):
        tg.user_sends(CITIZEN, CITIZEN, text)
    assert tg.pending_updates() == 3

    first = await bot.get_updates()
    again = await bot.get_updates()
    assert [u.message.text for u in first] == ["один", "два", "три"]
    assert [u.update_id for u in again] == [u.update_id for u in first]  # unconfirmed ones come back

    rest = await bot.get_updates(offset=first[1].update_id)
    assert [u.message.text for u in rest] == ["два", "три"]
    assert tg.pending_updates() == 2
    # a lower offset cannot bring a confirmed update back
    assert [u.message.text for u in await bot.get_updates(offset=first[0].update_id)] == ["два", "три"]
    assert len(await bot.get_updates(limit=1)) == 1

    assert await bot.get_updates(offset=first[2].update_id + 1) == []
    assert tg.pending_updates() == 0


async def test_long_poll_wakes_on_new_update_and_times_out_empty(tg: TelegramStandin, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await bot.get_updates(timeout=1) == []
    assert loop.time() - started >= 0.9

    poll = asyncio.create_task(bot.get_updates(timeout=20))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = loop.time()
    tg.user_sends(CITIZEN, CITIZEN, "проснись")
    updates = await asyncio.wait_for(poll, 3)
    assert loop.time() - started < 1.5
    assert [u.message.text for u in updates] == ["проснись"]


async def test_second_poll_terminates_the_first_with_conflict(tg: TelegramStandin, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError):
        await asyncio.wait_for(first, 3)
    assert await second == []


async def test_allowed_updates_filters_new_updates(tg: TelegramStandin, bot: Bot) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "/start")
    card = await bot.send_message(
        CITIZEN,
        "Выберите",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]]
        ),
    )
    updates = await bot.get_updates(allowed_updates=["message"])
    await bot.get_updates(offset=updates[-1].update_id + 1, allowed_updates=["message"])
    tg.user_presses(CITIZEN, card.message_id, CITIZEN)
    tg.user_sends(CITIZEN, CITIZEN, "текст")
    kinds = [u.event_type for u in await bot.get_updates()]
    assert kinds == ["message"]


async def test_duplicate_update_is_redelivered_once(tg: TelegramStandin, bot: Bot) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "однажды")
    [update] = await bot.get_updates()
    await bot.get_updates(offset=update.update_id + 1)
    assert tg.pending_updates() == 0

    tg.push_update(tg.update_log()[0])
    tg.user_sends(CITIZEN, CITIZEN, "новое")
    batch = await bot.get_updates(offset=update.update_id + 1)
    assert [u.update_id for u in batch] == [update.update_id, update.update_id + 1]
    assert [u.update_id for u in await bot.get_updates(offset=batch[-1].update_id + 1)] == []


# ---------------------------------------------------------------- a real Dispatcher


async def test_dispatcher_round_trip(tg: TelegramStandin, bot: Bot) -> None:
    dp = Dispatcher()
    seen: list[str] = []

    @dp.message(F.text)
    async def on_text(message: Message) -> None:
        seen.append(message.text or "")
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text="Принять", callback_data=f"take:{message.message_id}")]
            ]
        )
        await message.reply(f"Принято: <b>{html.escape(message.text or '')}</b>", reply_markup=keyboard)

    @dp.callback_query(F.data.startswith("take:"))
    async def on_take(query: CallbackQuery) -> None:
        await query.answer("Взято в работу")
        assert isinstance(query.message, Message)
        await query.message.edit_text(
            f"{query.message.html_text}\n✅ {html.escape(query.from_user.full_name)}"
        )

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        question = tg.user_sends(CITIZEN, CITIZEN, "Яма <глубокая> & опасная")
        ack = await tg.wait_bot_message(CITIZEN, "Принято")
        assert ack["text"] == "Принято: Яма <глубокая> & опасная"
        assert ack["reply_to_message_id"] == question["message_id"]
        assert (
            ack["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"take:{question['message_id']}"
        )

        query_id = tg.user_presses(CITIZEN, ack["message_id"], CITIZEN)
        await tg.wait_for(lambda: query_id in tg.callback_answers)
        assert tg.callback_answers[query_id]["text"] == "Взято в работу"
        edited = await tg.wait_for(
            lambda: next((m for m in tg.bot_messages(CITIZEN) if m["edit_count"]), None)
        )
        assert edited["text"].endswith("✅ Мария") and edited["reply_markup"] is None
        await tg.wait_for(lambda: tg.pending_updates() == 0)

        # a re-delivered update reaches the handlers a second time: dedup is the bot's job
        original = next(u for u in tg.update_log() if u.get("message", {}).get("text", "").startswith("Яма"))
        tg.push_update(original)
        await tg.wait_bot_message(CITIZEN, "Принято", count=2)
        assert seen == ["Яма <глубокая> & опасная"] * 2
    finally:
        await dp.stop_polling()
        await polling


# ---------------------------------------------------------------- sendMessage validation


@pytest.mark.parametrize(
    ("markup", "fragment"),
    [
        ("<b>не закрыт", 'Can\'t find end tag corresponding to start tag "b"'),
        ("5 < 7", 'Unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", 'must be escaped as "&amp;"'),
        ("<script>alert(1)</script>", 'Unsupported start tag "script"'),
        ("лишний </i>", "Unexpected end tag"),
        ("<b><i>x</b></i>", 'expected "</i>", found "</b>"'),
        ("<span>x</span>", 'must have class "tg-spoiler"'),
        ("<a href='x'", "Unclosed start tag"),
        ("&nbsp;", "unsupported HTML entity"),
    ],
)
async def test_malformed_html_is_rejected_without_side_effects(
    tg: TelegramStandin, bot: Bot, markup: str, fragment: str
) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "/start")
    with pytest.raises(TelegramBadRequest) as err:
        await bot.send_message(CITIZEN, markup)
    assert "can't parse entities" in err.value.message and fragment in err.value.message
    assert tg.bot_messages(CITIZEN) == []


async def test_escaped_text_arrives_intact_with_entities(tg: TelegramStandin, bot: Bot) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "/start")
    nasty = 'В доме <b>нет</b> воды & "свет" 5 < 7 > 3 &amp; 😀 УК молчит'
    source = f'<b>Жалоба</b> 😀 <i>{html.escape(nasty)}</i> &#8470;5 <a href="https://example.org/?a=1&amp;b=2">ссылка</a>'
    sent = await bot.send_message(CITIZEN, source)
    expected = f"Жалоба 😀 {nasty} №5 ссылка"
    assert sent.text == expected
    [logged] = tg.bot_messages(CITIZEN)
    assert logged["text"] == expected and logged["html"] == source
    italic = next(e for e in logged["entities"] if e["type"] == "italic")
    assert italic["offset"] == utf16_len("Жалоба 😀 ") and italic["length"] == utf16_len(nasty)
    link = next(e for e in logged["entities"] if e["type"] == "text_link")
    assert link["url"] == "https://example.org/?a=1&b=2"
    assert sent.html_text.startswith("<b>Жалоба</b>")  # aiogram can rebuild HTML from our entities


async def test_length_limits_count_parsed_utf16(tg: TelegramStandin, bot: Bot) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "/start")
    await bot.send_message(CITIZEN, "я" * 4096)
    await bot.send_message(CITIZEN, "<b>" + "я" * 4096 + "</b>")  # tags do not count
    await bot.send_message(CITIZEN, "😀" * 2048)
    for too_long in ("я" * 4097, "😀" * 2049, "&lt;" * 4097):
        with pytest.raises(TelegramBadRequest, match="message is too long"):
            await bot.send_message(CITIZEN, too_long)
    for empty in ("", "   \n ", "<b> </b>"):
        with pytest.raises(TelegramBadRequest, match="message text is empty"):
            await bot.send_message(CITIZEN, empty)
    assert len(tg.bot_messages(CITIZEN)) == 3


async def test_reply_linkage_and_missing_target(tg: TelegramStandin, bot: Bot) -> None:
    question = tg.user_sends(CITIZEN, CITIZEN, "Когда уберут снег?")
    answer = await bot.send_message(
        CITIZEN, "Завтра", reply_parameters=ReplyParameters(message_id=question["message_id"])
    )
    assert answer.reply_to_message is not None and answer.reply_to_message.text == "Когда уберут снег?"
    legacy = await bot.send_message(CITIZEN, "Точно завтра", reply_to_message_id=question["message_id"])
    assert legacy.reply_to_message is not None
    assert [m["reply_to_message_id"] for m in tg.bot_messages(CITIZEN)] == [question["message_id"]] * 2

    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(CITIZEN, "в пустоту", reply_parameters=ReplyParameters(message_id=999))
    loose = await bot.send_message(
        CITIZEN,
        "всё равно",
        reply_parameters=ReplyParameters(message_id=999, allow_sending_without_reply=True),
    )
    assert loose.reply_to_message is None and tg.bot_messages(CITIZEN)[-1]["reply_to_message_id"] is None
    ids = [m["message_id"] for m in tg.chat_log(CITIZEN)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_reply_markup_kinds_and_callback_data_limit(tg: TelegramStandin, bot: Bot) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "/start")
    ok = "ж" * 32  # 64 bytes of UTF-8
    await bot.send_message(
        CITIZEN,
        "ok",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="b", callback_data=ok)]]
        ),
    )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(
            CITIZEN,
            "too long",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="b", callback_data=ok + "ж")]]
            ),
        )
    forced = await bot.send_message(
        CITIZEN, "Опишите проблему", reply_markup=ForceReply(input_field_placeholder="…")
    )
    assert forced.reply_markup is None  # only inline keyboards come back in Message
    assert tg.bot_messages(CITIZEN)[-1]["reply_markup"]["force_reply"] is True
    status, body = await raw_call(tg, "sendMessage", chat_id=CITIZEN, text="x", reply_markup={"bogus": 1})
    assert status == 400 and "can't parse reply keyboard markup" in body["description"]
    assert len(tg.bot_messages(CITIZEN)) == 2


# ---------------------------------------------------------------- callbacks and edits


async def test_callback_query_and_answer(tg: TelegramStandin, bot: Bot) -> None:
    tg.user_sends(GROUP, OFFICIAL, "/start@otklik_bot")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Взять", callback_data="take:7"),
                InlineKeyboardButton(text="Нет", callback_data="no:7"),
            ]
        ]
    )
    card = await bot.send_message(GROUP, "Обращение №7", reply_markup=keyboard)
    with pytest.raises(ValueError, match="pass data"):
        tg.user_presses(GROUP, card.message_id, OFFICIAL)  # two buttons: ambiguous
    query_id = tg.user_presses(GROUP, card.message_id, OFFICIAL, "take:7")
    updates = await bot.get_updates()
    query = updates[-1].callback_query
    assert query is not None and query.id == query_id and query.data == "take:7"
    assert query.from_user.id == OFFICIAL and isinstance(query.message, Message)
    assert query.message.message_id == card.message_id

    assert await bot.answer_callback_query(query_id, text="Готово", show_alert=True)
    assert (
        tg.callback_answers[query_id]["text"] == "Готово"
        and tg.callback_answers[query_id]["show_alert"] is True
    )
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)


async def test_edits_and_not_modified(tg: TelegramStandin, bot: Bot) -> None:
    user_message = tg.user_sends(CITIZEN, CITIZEN, "/start")
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]])
    sent = await bot.send_message(CITIZEN, "<b>Статус</b>: новое", reply_markup=keyboard)

    edited = await bot.edit_message_text(
        "<b>Статус</b>: в работе", chat_id=CITIZEN, message_id=sent.message_id, reply_markup=keyboard
    )
    assert isinstance(edited, Message) and edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "<strong>Статус</strong>: в работе",
            chat_id=CITIZEN,
            message_id=sent.message_id,
            reply_markup=keyboard,
        )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=CITIZEN, message_id=sent.message_id, reply_markup=keyboard
        )
    await bot.edit_message_reply_markup(chat_id=CITIZEN, message_id=sent.message_id)

    [current] = tg.bot_messages(CITIZEN)
    assert (
        current["text"] == "Статус: в работе"
        and current["edit_count"] == 2
        and current["reply_markup"] is None
    )
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("чужое", chat_id=CITIZEN, message_id=user_message["message_id"])
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("нет такого", chat_id=CITIZEN, message_id=999)

    changed = tg.user_edits(CITIZEN, user_message["message_id"], "/start again")
    assert changed["edit_count"] == 1
    update = (await bot.get_updates())[-1]
    assert update.edited_message is not None and update.edited_message.text == "/start again"


async def test_a_bot_deletes_its_messages_within_48_hours(tg: TelegramStandin, bot: Bot) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "/start")
    fresh = await bot.send_message(CITIZEN, "свежее")
    old = await bot.send_message(CITIZEN, "старое")
    tg.age_messages(CITIZEN, 47 * 3600)
    assert await bot.delete_message(CITIZEN, fresh.message_id) is True
    tg.age_messages(CITIZEN, 2 * 3600)  # "старое" is 49 hours old now
    with pytest.raises(TelegramBadRequest, match="message can't be deleted"):
        await bot.delete_message(CITIZEN, old.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(CITIZEN, fresh.message_id)
    assert [m["text"] for m in tg.bot_messages(CITIZEN)] == ["старое"]


# ---------------------------------------------------------------- files


async def test_user_photo_resent_by_file_id_and_downloaded(tg: TelegramStandin, bot: Bot) -> None:
    sent = tg.user_sends(CITIZEN, CITIZEN, "вот фото", photo=True)
    assert sent["caption"] == "вот фото" and "text" not in sent
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.photo is not None
    largest = update.message.photo[-1]
    assert (largest.width, largest.height) == (160, 120) and update.message.photo[0].width < largest.width

    forwarded = await bot.send_photo(GROUP, largest.file_id, caption="Фото к обращению <b>№3</b>")
    assert forwarded.photo is not None and forwarded.photo[-1].file_id == largest.file_id
    assert tg.bot_messages(GROUP)[0]["caption"] == "Фото к обращению №3"

    file = await bot.get_file(largest.file_id)
    assert file.file_path is not None
    data = (await bot.download_file(file.file_path)).read()  # type: ignore[union-attr]
    assert image_size(data) == (160, 120) and file.file_size == len(data)

    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(GROUP, "AgACnope")
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await bot.send_photo(GROUP, largest.file_id, caption="я" * 1025)


async def test_uploaded_photo_document_album_location(tg: TelegramStandin, bot: Bot) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "/start")
    png = make_png(400, 300, (10, 20, 30))
    uploaded = await bot.send_photo(CITIZEN, BufferedInputFile(png, "map.png"), caption="Карта")
    assert uploaded.photo is not None and (uploaded.photo[-1].width, uploaded.photo[-1].height) == (400, 300)
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(CITIZEN, BufferedInputFile(b"not an image", "x.jpg"))

    doc = await bot.send_document(CITIZEN, BufferedInputFile(b"a;b\n1;2\n", "report.csv"))
    assert doc.document is not None and doc.document.file_name == "report.csv"
    got = await bot.get_file(doc.document.file_id)
    assert (await bot.download_file(got.file_path or "")).read() == b"a;b\n1;2\n"  # type: ignore[union-attr]

    album = await bot.send_media_group(
        CITIZEN,
        [
            InputMediaPhoto(media=uploaded.photo[-1].file_id, caption="раз"),
            InputMediaPhoto(media=BufferedInputFile(png, "b.png")),
        ],
    )
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id is not None

    place = await bot.send_location(CITIZEN, latitude=57.6261, longitude=39.8845)
    assert place.location is not None and place.location.latitude == pytest.approx(57.6261)
    with pytest.raises(TelegramBadRequest):
        await bot.send_location(CITIZEN, latitude=91, longitude=0)
    assert len(tg.bot_messages(CITIZEN)) == 5


async def test_copy_and_forward(tg: TelegramStandin, bot: Bot) -> None:
    original = tg.user_sends(CITIZEN, CITIZEN, "Нет света в подъезде")
    copied = await bot.copy_message(GROUP, CITIZEN, original["message_id"])
    forwarded = await bot.forward_message(GROUP, CITIZEN, original["message_id"])
    assert forwarded.forward_origin is not None and forwarded.forward_origin.type == "user"
    assert [m["text"] for m in tg.bot_messages(GROUP)] == ["Нет света в подъезде"] * 2
    assert (
        tg.bot_messages(GROUP)[0]["message_id"] == copied.message_id
        and "forward_origin" not in tg.bot_messages(GROUP)[0]
    )
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(GROUP, CITIZEN, 999)


# ---------------------------------------------------------------- chats, members, access


async def test_get_chat_member_statuses(tg: TelegramStandin, bot: Bot) -> None:
    expected = {
        "creator": ChatMemberOwner,
        "administrator": ChatMemberAdministrator,
        "member": ChatMemberMember,
        "left": ChatMemberLeft,
        "kicked": ChatMemberBanned,
    }
    for offset, status in enumerate(expected):
        tg.set_member(GROUP, 5000 + offset, status)
    for offset, (status, model) in enumerate(expected.items()):
        member = await bot.get_chat_member(GROUP, 5000 + offset)
        assert isinstance(member, model) and member.status == status and member.user.id == 5000 + offset
    assert isinstance(await bot.get_chat_member(GROUP, 6666), ChatMemberLeft)
    tg.user_sends(GROUP, OFFICIAL, "Я тут")  # sending makes an unknown user a member
    assert (await bot.get_chat_member(GROUP, OFFICIAL)).status == "member"
    chat = await bot.get_chat(GROUP)
    assert (chat.id, chat.type, chat.title) == (GROUP, "supergroup", "Администрация")


async def test_chat_not_found_blocked_and_left(tg: TelegramStandin, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(-1009999, "кому?")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat(-1009999)
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(OFFICIAL, "Вы не нажимали /start")

    tg.user_sends(CITIZEN, CITIZEN, "/start")
    await bot.send_message(CITIZEN, "до блокировки")
    tg.block_bot(CITIZEN)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(CITIZEN, "после блокировки")
    kinds = [u.event_type for u in await bot.get_updates()]
    assert kinds == ["message", "my_chat_member"]
    tg.user_sends(CITIZEN, CITIZEN, "/start")  # the user restarts the bot
    await bot.send_message(CITIZEN, "снова можно")
    assert [m["text"] for m in tg.bot_messages(CITIZEN)] == ["до блокировки", "снова можно"]

    assert await bot.leave_chat(GROUP)
    with pytest.raises(TelegramForbiddenError, match="not a member of the supergroup chat"):
        await bot.send_message(GROUP, "я ушёл")


async def test_commands_and_chat_action(tg: TelegramStandin, bot: Bot) -> None:
    from aiogram.types import BotCommand

    assert await bot.set_my_commands([BotCommand(command="start", description="Начать")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Command", description="x")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    tg.user_sends(CITIZEN, CITIZEN, "/start")
    assert await bot.send_chat_action(CITIZEN, "typing")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert tg.pending_updates() == 0


# ---------------------------------------------------------------- faults


async def test_faults_raise_in_aiogram_and_leave_no_trace(tg: TelegramStandin, bot: Bot) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "/start")
    first = await bot.send_message(CITIZEN, "до сбоя")

    tg.inject_faults(1.0, kinds=("429",), retry_after=3)
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(CITIZEN, "не дойдёт")
    assert flood.value.retry_after == 3
    tg.inject_faults(1.0, kinds=("500",))
    with pytest.raises(TelegramServerError):
        await bot.edit_message_text("не изменится", chat_id=CITIZEN, message_id=first.message_id)
    assert (await bot.get_me()).id == tg.bot_id  # reads are not faulted by default

    tg.inject_faults(1.0, kinds=("timeout",))
    impatient = make_bot(tg, timeout=1)
    try:
        with pytest.raises(TelegramNetworkError):
            await impatient.send_message(CITIZEN, "зависнет")
    finally:
        await impatient.session.close()

    tg.inject_faults(0)
    after = await bot.send_message(CITIZEN, "после сбоя")
    assert [m["text"] for m in tg.bot_messages(CITIZEN)] == ["до сбоя", "после сбоя"]
    assert tg.bot_messages(CITIZEN)[0]["edit_count"] == 0
    assert after.message_id == first.message_id + 1  # faulted sends used up no message ids
    assert [kind for _, kind in tg.faults] == ["429", "500", "timeout"]


async def test_fault_rate_is_deterministic_per_seed(tg: TelegramStandin, bot: Bot) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "/start")

    async def run() -> list[bool]:
        outcomes = []
        for i in range(30):
            try:
                await bot.send_message(CITIZEN, f"№{i}")
                outcomes.append(True)
            except (TelegramRetryAfter, TelegramServerError):
                outcomes.append(False)
        return outcomes

    tg.inject_faults(0.3, kinds=("429", "500"), seed=7)
    first = await run()
    tg.inject_faults(0.3, kinds=("429", "500"), seed=7)
    second = await run()
    assert first == second and 3 <= first.count(False) <= 18
    assert len(tg.bot_messages(CITIZEN)) == 2 * first.count(True)


# ---------------------------------------------------------------- sandbox page API


async def test_sandbox_page_and_api(tg: TelegramStandin, bot: Bot) -> None:
    layout = {
        "panes": [
            {
                "title": "Житель",
                "chats": [{"chat_id": CITIZEN, "title": "Личный чат"}],
                "user": {"id": CITIZEN, "first_name": "Мария"},
            },
            {
                "title": "Исполнитель",
                "chats": [{"chat_id": GROUP, "title": "Администрация"}],
                "user": {"id": OFFICIAL, "first_name": "Иван"},
            },
        ]
    }
    tg.set_sandbox_layout(layout)
    async with aiohttp.ClientSession(base_url=tg.base_url) as http:
        async with http.get("/") as resp:
            page = await resp.text()
            assert resp.status == 200 and "state?since=" in page and ".innerHTML" not in page
        async with http.get("/sandbox/api/layout") as resp:
            assert await resp.json() == layout
        async with http.get("/sandbox/api/state", params={"since": "-1"}) as resp:
            version = (await resp.json())["version"]

        waiting = asyncio.create_task(http.get("/sandbox/api/state", params={"since": str(version)}))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        png = make_png(20, 10, (1, 2, 3))
        import base64

        async with http.post(
            "/sandbox/api/send",
            json={
                "chat_id": CITIZEN,
                "user_id": CITIZEN,
                "text": "Фото ямы",
                "photo_base64": base64.b64encode(png).decode(),
            },
        ) as resp:
            assert resp.status == 200
        state = await (await asyncio.wait_for(waiting, 3)).json()
        [message] = state["chats"][str(CITIZEN)]
        assert message["caption"] == "Фото ямы" and state["version"] > version
        async with http.get(message["photo_url"]) as resp:
            assert await resp.read() == png

        card = await bot.send_message(
            GROUP,
            "Карточка",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="ok")]]
            ),
        )
        async with http.post(
            "/sandbox/api/press",
            json={"chat_id": GROUP, "message_id": card.message_id, "user_id": OFFICIAL, "data": "ok"},
        ) as resp:
            query_id = (await resp.json())["callback_query_id"]
        async with http.post(
            "/sandbox/api/send", json={"chat_id": GROUP, "user_id": OFFICIAL, "text": "x", "reply_to": "oops"}
        ) as resp:
            assert resp.status == 400
    updates = await bot.get_updates()
    assert updates[-1].callback_query is not None and updates[-1].callback_query.id == query_id


async def test_wait_for_timeout_explains_the_world(tg: TelegramStandin) -> None:
    tg.user_sends(CITIZEN, CITIZEN, "Алло?")
    with pytest.raises(TimeoutError) as err:
        await tg.wait_bot_message(CITIZEN, "ответ", timeout=0.2)
    assert "Алло?" in str(err.value) and "chat 1001" in str(err.value)


# ---------------------------------------------------------------- the HTML parser itself


def test_html_parser_entities() -> None:
    parsed = parse_html(
        '<b>жир <i>и курсив</i></b> <pre><code class="language-python">x = 1</code></pre> <blockquote expandable>q</blockquote>'
    )
    assert parsed.text == "жир и курсив x = 1 q"
    types = [(e["type"], e["offset"], e["length"]) for e in parsed.entities]
    assert types == [("bold", 0, 12), ("italic", 4, 8), ("pre", 13, 5), ("expandable_blockquote", 19, 1)]
    assert parsed.entities[2]["language"] == "python"
    assert parse_html("&#x1F600;&#128512;&quot;").text == '😀😀"'
    with pytest.raises(EntityParseError):
        parse_html("&#0;")
