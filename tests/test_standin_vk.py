"""The VK API stand-in, driven by the real vk-api client (in threads, as the bot runs it): VK's
errors and limits, random_id, keyboards, replies, the long poll, callback answers, uploads, faults
and the sandbox page's view of it."""
from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import requests
import vk_api
from vk_api.bot_longpoll import VkBotLongPoll
from vk_api.exceptions import ApiError, ApiHttpError
from vk_api.keyboard import VkKeyboard
from vk_api.upload import VkUpload

from bot.outbox import PermanentError
from bot.standin.telegram import TelegramStandin
from bot.standin.telegram_media import make_png
from bot.standin.vk import VkStandin
from bot.vk_client import API_VERSION, RebasedSession

USER = 5001
OTHER = 5002
CHAT = 2000000001


@pytest.fixture
async def vk() -> AsyncIterator[VkStandin]:
    standin = VkStandin()
    await standin.start()
    standin.add_user(USER, "Анна", "Смирнова")
    standin.add_user(OTHER, "Борис")
    standin.add_chat(CHAT, "Администрация", members=(OTHER,))
    try:
        yield standin
    finally:
        await standin.stop()


def client(vk: VkStandin, *, timeout: float = 5.0, token: str | None = None) -> vk_api.VkApi:
    api = vk_api.VkApi(token=token or vk.token, api_version=API_VERSION, session=RebasedSession(vk.base_url, timeout))
    api.RPS_DELAY = 0
    return api


async def call(api: vk_api.VkApi, method: str, **values: Any) -> Any:
    return await asyncio.to_thread(api.method, method, values)


async def api_error(api: vk_api.VkApi, method: str, **values: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call(api, method, **values)
    return caught.value


def keyboard(*labels: str, rows: int = 1) -> str:
    board = VkKeyboard(inline=True)
    for row in range(rows):
        if row:
            board.add_line()
        for label in labels:
            board.add_callback_button(label, payload={"a": f"{label}:{row}"})
    return board.get_keyboard()


async def test_vk_errors_as_vk_sends_them(vk: VkStandin) -> None:
    api = client(vk)
    assert (await api_error(api, "wall.post", message="x")).code == 3
    assert (await api_error(client(vk, token="wrong"), "users.get", user_ids=USER)).code == 5
    # the community may not write first to a user, nor into a chat it is not in
    assert (await api_error(api, "messages.send", peer_id=USER, random_id=1, message="x")).code == 901
    assert (await api_error(api, "messages.send", peer_id=2000000009, random_id=1, message="x")).code == 917
    vk.user_sends(USER, USER, "Здравствуйте")
    assert (await api_error(api, "messages.send", peer_id=USER, message="x")).code == 100  # random_id required
    assert (await api_error(api, "messages.send", peer_id=USER, random_id=2, message=" ")).code == 100
    assert (await api_error(api, "messages.send", peer_id=USER, random_id=3, message="я" * 4097)).code == 914
    assert [u["first_name"] for u in await call(api, "users.get", user_ids=f"{USER},{OTHER}")] == ["Анна", "Борис"]


async def test_random_id_makes_a_repeated_send_one_message(vk: VkStandin) -> None:
    api = client(vk)
    vk.user_sends(USER, USER, "Здравствуйте")
    first = await call(api, "messages.send", peer_ids=USER, random_id=77, message="Ответ")
    again = await call(api, "messages.send", peer_ids=USER, random_id=77, message="Ответ")
    other = await call(api, "messages.send", peer_ids=USER, random_id=78, message="Ответ")
    assert first == again and first[0]["conversation_message_id"] == 2
    assert other[0]["conversation_message_id"] == 3
    assert [m["text"] for m in vk.bot_messages(USER)] == ["Ответ", "Ответ"]
    # peer_id (not peer_ids) answers with the message id alone, as VK does
    assert isinstance(await call(api, "messages.send", peer_id=USER, random_id=79, message="x"), int)


async def test_inline_keyboards_are_held_to_vk_limits(vk: VkStandin) -> None:
    api = client(vk)
    vk.user_sends(USER, USER, "Здравствуйте")
    send = {"peer_id": USER, "message": "Выберите"}
    # vk-api's VkKeyboard itself stops at 6 rows; a hand-made keyboard meets VK's check
    seven_rows = json.loads(keyboard("a", rows=6))
    seven_rows["buttons"].append(seven_rows["buttons"][0])
    assert (await api_error(api, "messages.send", random_id=1, keyboard=json.dumps(seven_rows), **send)).code == 911
    assert (await api_error(api, "messages.send", random_id=2, keyboard=keyboard("a", "b", rows=6), **send)).code == 911
    assert (await api_error(api, "messages.send", random_id=3, keyboard=keyboard("я" * 41), **send)).code == 911
    assert (await api_error(api, "messages.send", random_id=4, keyboard="{oops", **send)).code == 911
    await call(api, "messages.send", random_id=5, keyboard=keyboard("Решено", "Не решено", rows=5), **send)
    [message] = [m for m in vk.bot_messages(USER) if m.get("keyboard")]
    assert message["keyboard"]["inline"] is True and len(message["keyboard"]["buttons"]) == 5


async def test_replies_edits_and_reading_back(vk: VkStandin) -> None:
    api = client(vk)
    sent = vk.user_sends(USER, USER, "Яма на дороге")
    forward = json.dumps({"peer_id": USER, "conversation_message_ids": [sent["conversation_message_id"]],
                          "is_reply": True})
    [reply] = await call(api, "messages.send", peer_ids=USER, random_id=1, message="Принято", forward=forward,
                         keyboard=keyboard("Решено"))
    cmid = reply["conversation_message_id"]
    assert vk.current(USER, cmid)["reply_message"]["text"] == "Яма на дороге"
    missing = json.dumps({"peer_id": USER, "conversation_message_ids": [999], "is_reply": True})
    assert (await api_error(api, "messages.send", peer_id=USER, random_id=2, message="x", forward=missing)).code == 100

    # an edit with a keyboard keeps it; without one the keyboard goes
    await call(api, "messages.edit", peer_id=USER, conversation_message_id=cmid, message="Принято!",
               keyboard=keyboard("Решено"), keep_forward_messages=1)
    assert vk.current(USER, cmid)["keyboard"]["buttons"]
    await call(api, "messages.edit", peer_id=USER, conversation_message_id=cmid, message="Принято!!")
    assert "keyboard" not in vk.current(USER, cmid)
    found = await call(api, "messages.getByConversationMessageId", peer_id=USER, conversation_message_ids=cmid)
    assert found["count"] == 1 and found["items"][0]["text"] == "Принято!!"
    assert (await api_error(api, "messages.edit", peer_id=USER, conversation_message_id=sent["conversation_message_id"],
                            message="чужое")).code == 909


async def test_a_community_deletes_its_messages_for_all_within_a_day(vk: VkStandin) -> None:
    api = client(vk)
    mine = vk.user_sends(USER, USER, "Яма на дороге")
    [fresh] = await call(api, "messages.send", peer_ids=USER, random_id=1, message="свежее")
    [old] = await call(api, "messages.send", peer_ids=USER, random_id=2, message="старое")
    vk.age_messages(USER, 23 * 3600)
    deleted = await call(api, "messages.delete", peer_id=USER, cmids=fresh["conversation_message_id"],
                         delete_for_all=1, group_id=vk.group_id)
    assert deleted == [{"peer_id": USER, "conversation_message_id": fresh["conversation_message_id"], "response": 1}]
    vk.age_messages(USER, 2 * 3600)
    for cmid in (old["conversation_message_id"], mine["conversation_message_id"]):  # too old; not ours
        error = await api_error(api, "messages.delete", peer_id=USER, cmids=cmid, delete_for_all=1,
                                group_id=vk.group_id)
        assert error.code == 924
    assert (await api_error(api, "messages.delete", peer_id=USER, cmids=old["conversation_message_id"],
                            group_id=vk.group_id)).code == 100
    assert [m["text"] for m in vk.bot_messages(USER)] == ["старое"]


async def test_long_poll_delivers_messages_and_presses_and_survives_a_new_key(vk: VkStandin) -> None:
    api = client(vk)
    longpoll = await asyncio.to_thread(VkBotLongPoll, api, vk.group_id, 1)
    longpoll.session = api.http
    assert await asyncio.to_thread(longpoll.check) == []

    vk.user_sends(USER, USER, "Яма", location=(57.6, 39.8))
    [event] = await asyncio.to_thread(longpoll.check)
    assert event.type.value == "message_new" and event.raw["event_id"]
    assert event.message["geo"]["coordinates"] == {"latitude": 57.6, "longitude": 39.8}
    assert event.obj["client_info"]["button_actions"].count("callback") == 1
    assert vk.pending_events() == 1  # delivered, not yet confirmed by the next check

    [sent] = await call(api, "messages.send", peer_ids=USER, random_id=1, message="?", keyboard=keyboard("Решено"))
    press = vk.user_presses(USER, sent["conversation_message_id"], USER)
    vk.expire_key()
    events = await asyncio.to_thread(longpoll.check)  # failed: 2 — vk-api asks for a new key, keeps ts
    events += await asyncio.to_thread(longpoll.check)
    assert [e.type.value for e in events] == ["message_reply", "message_event"]
    assert events[1].obj["payload"] == {"a": "Решено:0"} and events[1].obj["event_id"] == press

    data = json.dumps({"type": "show_snackbar", "text": "Спасибо!"})
    await call(api, "messages.sendMessageEventAnswer", event_id=press, user_id=USER, peer_id=USER, event_data=data)
    assert vk.event_answers[press] == {"type": "show_snackbar", "text": "Спасибо!"}
    again = await api_error(api, "messages.sendMessageEventAnswer", event_id=press, user_id=USER, peer_id=USER)
    assert again.code == 100
    # a pushed duplicate comes again with the same event_id
    vk.push_event(events[1].raw)
    [duplicate] = await asyncio.to_thread(longpoll.check)
    assert duplicate.raw["event_id"] == events[1].raw["event_id"]
    await asyncio.to_thread(longpoll.check)
    assert vk.pending_events() == 0


async def test_a_press_needs_a_real_button_unless_forged(vk: VkStandin) -> None:
    api = client(vk)
    vk.user_sends(USER, USER, "Здравствуйте")
    [sent] = await call(api, "messages.send", peer_ids=USER, random_id=1, message="?",
                        keyboard=keyboard("Решено", "Не решено"))
    with pytest.raises(ValueError, match="pass payload"):
        vk.user_presses(USER, sent["conversation_message_id"], USER)
    with pytest.raises(ValueError, match="no callback button"):
        vk.user_presses(USER, sent["conversation_message_id"], USER, json.dumps({"a": "other"}))
    assert vk.user_presses(USER, 1, USER, json.dumps({"a": "rate:1:yes"}), forge=True)


async def test_photo_upload_round_trip_and_access_keys(vk: VkStandin) -> None:
    api = client(vk)
    sent = vk.user_sends(USER, USER, "Фото", photo=True)
    photo = sent["attachments"][0]["photo"]
    url = photo["sizes"][-1]["url"]
    assert (await asyncio.to_thread(requests.get, url)).content.startswith(b"\x89PNG")

    uploader = VkUpload(api)
    uploader.http = api.http
    image = make_png(40, 30, (10, 20, 30))
    [saved] = await asyncio.to_thread(uploader.photo_messages, io.BytesIO(image), USER)
    attachment = f"photo{saved['owner_id']}_{saved['id']}_{saved['access_key']}"
    await call(api, "messages.send", peer_id=USER, random_id=1, attachment=attachment)
    [message] = [m for m in vk.bot_messages(USER) if m["attachments"]]
    assert vk.photo_bytes(message["attachments"][0]["photo"]["sizes"][-1]["url"].rsplit("/", 1)[1]) == image

    # a user's photo can be re-sent with its access key, and not without it
    user_photo = f"photo{photo['owner_id']}_{photo['id']}"
    await call(api, "messages.send", peer_id=USER, random_id=2, attachment=f"{user_photo}_{photo['access_key']}")
    assert (await api_error(api, "messages.send", peer_id=USER, random_id=3, attachment=user_photo)).code == 15
    save_again = await api_error(api, "photos.saveMessagesPhoto", photo='[{"photo": "up1"}]', server=1, hash="x")
    assert save_again.code == 1


async def test_faults_as_a_flaky_vk_shows_them(vk: VkStandin) -> None:
    api = client(vk, timeout=0.5)
    vk.user_sends(USER, USER, "Здравствуйте")
    vk.inject_faults(1.0, kinds=("10",), methods={"messages.send"})
    assert (await api_error(api, "messages.send", peer_id=USER, random_id=1, message="x")).code == 10
    vk.inject_faults(1.0, kinds=("http500",), methods={"messages.send"})
    with pytest.raises(ApiHttpError):
        await call(api, "messages.send", peer_id=USER, random_id=1, message="x")
    vk.inject_faults(1.0, kinds=("timeout",), methods={"messages.send"}, hang_seconds=2)
    with pytest.raises(requests.Timeout):
        await call(api, "messages.send", peer_id=USER, random_id=1, message="x")
    assert vk.bot_messages(USER) == []
    # "lost": VK did it, the answer never came back; the retry with the same random_id finds it
    vk.inject_faults(1.0, kinds=("lost",), methods={"messages.send"}, hang_seconds=2)
    with pytest.raises(requests.Timeout):
        await call(api, "messages.send", peer_ids=USER, random_id=1, message="x")
    vk.inject_faults(0)
    [again] = await call(api, "messages.send", peer_ids=USER, random_id=1, message="x")
    assert [m["conversation_message_id"] for m in vk.bot_messages(USER)] == [again["conversation_message_id"]]
    assert [kind for _, kind in vk.faults] == ["10", "http500", "timeout", "lost"]


async def test_sandbox_page_shows_and_drives_linked_vk_chats(vk: VkStandin) -> None:
    tg = TelegramStandin()
    await tg.start()
    try:
        tg.set_sandbox_layout({"panes": [
            {"title": "Житель во ВКонтакте", "platform": "vk", "chats": [{"chat_id": USER, "title": "Диалог"}],
             "user": {"id": USER, "first_name": "Анна"}},
        ]})
        tg.link("vk", vk)
        async with aiohttp.ClientSession(tg.base_url) as http:
            async with http.post("/sandbox/api/send", json={"platform": "vk", "chat_id": USER, "user_id": USER,
                                                            "text": "Яма"}) as resp:
                assert (await resp.json())["message_id"] == 1
            api = client(vk)
            await call(api, "messages.send", peer_id=USER, random_id=1, message="Принято",
                       keyboard=keyboard("Решено"))
            async with http.get("/sandbox/api/state", params={"since": "-1"}) as resp:
                state = await resp.json()
            view = state["chats"][f"vk:{USER}"]
            assert [m["text"] for m in view] == ["Яма", "Принято"] and view[1]["is_bot"] is True
            button = view[1]["reply_markup"]["inline_keyboard"][0][0]
            assert button["text"] == "Решено"
            async with http.post("/sandbox/api/press", json={"platform": "vk", "chat_id": USER, "message_id": 2,
                                                             "user_id": USER, "data": button["callback_data"]}) as resp:
                event_id = (await resp.json())["event_id"]
            await call(api, "messages.sendMessageEventAnswer", event_id=event_id, user_id=USER, peer_id=USER,
                       event_data=json.dumps({"type": "show_snackbar", "text": "Спасибо!"}))
            async with http.get("/sandbox/api/state", params={"since": "-1"}) as resp:
                notices = (await resp.json())["notices"]
            assert {"id": f"vk:{event_id}", "text": "Спасибо!", "show_alert": False} in notices
    finally:
        await tg.stop()


async def test_transport_sends_files_the_bot_made_and_leaves_a_chat(vk: VkStandin) -> None:
    from bot.outbox import Outgoing
    from bot.vk_client import VkClient
    from bot.vk_transport import VkTransport

    client_ = VkClient(vk.token, vk.group_id, api_url=vk.base_url, request_timeout=5)
    transport = VkTransport(client_)
    chart = make_png(64, 48, (200, 60, 60))
    workbook = b"PK\x03\x04 a workbook"
    try:
        def item(row: int, payload: dict[str, Any]) -> Outgoing:
            return Outgoing(id=row, platform="vk", chat_id=str(CHAT), payload=payload, appeal_id=None)

        [photo_id] = await transport.deliver(item(1, {
            "type": "photo_bytes", "data": base64.b64encode(chart).decode(), "filename": "rating.png",
            "caption": "<b>Рейтинг</b> за неделю"}))
        [doc_id] = await transport.deliver(item(2, {
            "type": "document_bytes", "data": base64.b64encode(workbook).decode(), "filename": "report.xlsx",
            "caption": "Отчёт"}))
        photo_message = vk.current(CHAT, int(photo_id))
        assert photo_message["text"] == "Рейтинг за неделю"
        url = photo_message["attachments"][0]["photo"]["sizes"][-1]["url"]
        assert vk.photo_bytes(url.rsplit("/", 1)[1]) == chart
        doc = vk.current(CHAT, int(doc_id))["attachments"][0]["doc"]
        assert doc["title"] == "report.xlsx" and vk.doc_bytes(doc["url"].rsplit("/", 1)[1]) == workbook

        assert await transport.deliver(item(3, {"type": "leave"})) == []
        with pytest.raises(PermanentError):  # gone from the chat: 917, not worth retrying
            await transport.deliver(item(4, {"type": "text", "text": "ещё"}))
    finally:
        client_.close()
