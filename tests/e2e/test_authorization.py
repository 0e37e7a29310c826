"""Authorization, end to end: every forgery or misuse we could think of, tried against the real bot
through the Bot API stand-in (and the VK stand-in), each asserting that nothing changed — no status,
no event, no history, nothing sent to a citizen — and that the person was told why where that is due.

Who may do what:
- an account's appeals are acted on only by members of that account's chat, only in that chat,
  only while the appeal is with that account, and never anonymously;
- triage buttons work only in the triage chat, for its members;
- supervisors' commands work only in the supervisors' chat; /open and /overdue show a chat its own;
- a citizen sees and rates only their own appeals, and erases only their own data;
- a button's callback data names an appeal, but the desk acts only when the pressed message is
  linked to that same appeal in that same chat: forged data reaches nothing."""
from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest

from bot.config import OtklikConfig
from routing import texts
from routing.lifecycle import Status
from tests.conftest import (
    CITIZEN,
    CITIZEN2,
    OPERATOR,
    STRANGER,
    VK_ACCOUNT,
    VK_ACCOUNT_PEER,
    VK_CITIZEN,
    VK_CITIZEN2,
    VK_OFFICIAL,
    Stand,
    appeal_number,
    body,
)

RYBINSK_POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"
UGLICH_POTHOLE = "В Угличе на улице Ярославской огромная яма на дороге, машины бьют колёса"
RYBINSK_SECOND = "В Рыбинске на улице Ломоносова огромная яма на дороге, колесо пробил"
OTPISKA = "Ваше обращение рассмотрено. Информация принята к сведению, вопрос находится на контроле."
RYB = 2101  # a member of the Rybinsk administration's chat only
UGL = 2102  # a member of the Uglich administration's chat only
UNKNOWN_GROUP = -1009990001234
OFFICIAL_UGL = 2103  # in the deadline test, a member of Uglich's chat


def quick_config(config: OtklikConfig) -> OtklikConfig:
    # the outbox's rate limits are tested on their own; here they would only slow the chats down
    return config.model_copy(update={"delivery": config.delivery.model_copy(update={"rate_limits": False})})


def user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}


def group_chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "supergroup", "title": f"chat {chat_id}"}


_raw_ids = itertools.count(8_000_000)


def raw_message(chat: dict[str, Any], sender: dict[str, Any], **content: Any) -> dict[str, Any]:
    """A message as the Bot API serialises it, for updates the stand-in's user actions don't make."""
    return {"message_id": next(_raw_ids), "date": int(time.time()), "chat": chat, "from": sender, **content}


def push(tg: Any, kind: str, payload: dict[str, Any]) -> None:
    # the stand-in moves its own counter past whatever id push_update is given
    tg.push_update({"update_id": tg._next_update_id, kind: payload})


@pytest.fixture
def config(config: OtklikConfig) -> OtklikConfig:
    quick = quick_config(config)
    # the отписка hold on, so that its «Отправить как есть» / «Переписать» buttons are tried too
    return quick.model_copy(update={"analytics": quick.analytics.model_copy(update={"hold_flagged_answers": True})})


async def state(stand: Stand) -> Any:
    """Everything a forgery could change: appeals, their history and events, what citizens were sent."""
    appeals = await stand.query(
        "select id, status, account_code, rating, municipality, answer_flag, first_answered_at, citizen_id "
        "from appeals order by id"
    )
    events = await stand.query("select count(*) from appeal_events")
    messages = await stand.query("select count(*) from appeal_messages")
    citizens = await stand.query("select id, platform_user_id, chat_id, anonymised_at from citizens order by id")
    bindings = await stand.query("select count(*) from chat_bindings")
    sent = {c: len(stand.tg.bot_messages(c)) for c in (CITIZEN, CITIZEN2)}
    return appeals, events, messages, citizens, bindings, sent


async def toast(stand: Stand, query_id: str) -> str:
    answer = await stand.tg.wait_for(lambda: stand.tg.callback_answers.get(query_id))
    await stand.idle()
    return str(answer.get("text") or "")


async def unchanged_after(stand: Stand, before: Any) -> None:
    await stand.idle()
    assert await state(stand) == before


class World:
    """Rybinsk appeal A (citizen 1) and Uglich appeal B (citizen 2), each carded in its account's chat."""

    def __init__(self, stand: Stand) -> None:
        self.stand = stand
        self.ryb_chat = stand.chat("adm_rybinsk")
        self.ugl_chat = stand.chat("adm_uglichsky")
        self.a = self.b = 0
        self.card_a: dict = {}
        self.card_b: dict = {}

    async def build(self) -> World:
        s = self.stand
        s.tg.add_user(RYB, "Рыбинский чиновник")
        s.tg.add_user(UGL, "Угличский чиновник")
        s.tg.set_member(self.ryb_chat, RYB)
        s.tg.set_member(self.ugl_chat, UGL)
        s.citizen_says(RYBINSK_POTHOLE)
        self.a = appeal_number(await s.wait(CITIZEN, "принято"))
        self.card_a = await s.wait(self.ryb_chat, f"№{self.a}")
        s.tg.user_sends(CITIZEN2, CITIZEN2, UGLICH_POTHOLE)
        self.b = appeal_number(await s.wait(CITIZEN2, "принято"))
        self.card_b = await s.wait(self.ugl_chat, f"№{self.b}")
        accounts = {a.id: a.account_code for a in await s.appeals()}
        assert accounts == {self.a: "adm_rybinsk", self.b: "adm_uglichsky"}
        return self


@pytest.fixture
async def world(stand: Stand) -> World:
    return await World(stand).build()


# --- buttons under cards ---------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["take", "reject", "interim", "qsend", "qredo"])
async def test_a_card_button_forged_for_another_accounts_appeal_does_nothing(
    stand: Stand, world: World, verb: str
) -> None:
    before = await state(stand)
    # a member of Rybinsk's chat, on Rybinsk's own card, with Uglich's appeal number in the data
    forged = stand.tg.user_presses(world.ryb_chat, world.card_a["message_id"], RYB, f"{verb}:{world.b}")
    assert await toast(stand, forged) == texts.NOT_YOURS
    # ... and with the Uglich card's message id (which in Rybinsk's chat is some other message)
    forged = stand.tg.user_presses(world.ryb_chat, world.card_b["message_id"], RYB, f"{verb}:{world.b}")
    assert await toast(stand, forged) in (texts.NOT_YOURS, texts.STALE_BUTTON)
    # ... and with a message id the chat has never had
    forged = stand.tg.user_presses(world.ryb_chat, 987654, RYB, f"{verb}:{world.a}")
    assert await toast(stand, forged) == texts.NOT_YOURS
    await unchanged_after(stand, before)


@pytest.mark.parametrize("presser", [STRANGER, UGL])
async def test_a_real_card_button_pressed_by_a_non_member_does_nothing(
    stand: Stand, world: World, presser: int
) -> None:
    before = await state(stand)
    stand.tg.set_member(world.ryb_chat, presser, "left")
    for prefix in ("take:", "reject:"):
        pressed = stand.press(world.ryb_chat, world.card_a, prefix, user=presser)
        assert await toast(stand, pressed) == texts.ANSWER_REFUSED_NOT_MEMBER
    await unchanged_after(stand, before)


@pytest.mark.parametrize(
    "data",
    ["take:", "take:abc", "take:1:2", "take:-1", "take:99999", "take:1e3", "route:1", "route:x:adm_rybinsk",
     "reject:" + "9" * 58, "nonsense", "", "place:1:rybinsk", "rate:1:yes", "forget:yes"],
)
async def test_malformed_or_foreign_verbs_in_an_account_chat_do_nothing(
    stand: Stand, world: World, data: str
) -> None:
    before = await state(stand)
    pressed = stand.tg.user_presses(world.ryb_chat, world.card_a["message_id"], RYB, data)
    assert await toast(stand, pressed) in (texts.STALE_BUTTON, texts.NOT_YOURS)
    await unchanged_after(stand, before)


async def test_a_held_answer_can_be_released_only_by_its_own_account(stand: Stand, world: World) -> None:
    stand.official_replies(world.ryb_chat, world.card_a["message_id"], OTPISKA, user=RYB)
    hold = await stand.wait(world.ryb_chat, "пока не отправлен")
    before = await state(stand)
    # Uglich's member, in Uglich's chat, on Uglich's card, naming Rybinsk's held appeal
    for verb in ("qsend", "qredo"):
        forged = stand.tg.user_presses(world.ugl_chat, world.card_b["message_id"], UGL, f"{verb}:{world.a}")
        assert await toast(stand, forged) == texts.NOT_YOURS
    # a stranger pressing the real buttons in Rybinsk's chat
    stand.tg.set_member(world.ryb_chat, STRANGER, "left")
    pressed = stand.press(world.ryb_chat, hold, "qsend:", user=STRANGER)
    assert await toast(stand, pressed) == texts.ANSWER_REFUSED_NOT_MEMBER
    await unchanged_after(stand, before)
    assert not any("Ответ по обращению" in body(m) for m in stand.tg.bot_messages(CITIZEN))


async def test_an_account_that_lost_the_appeal_can_no_longer_act_on_it(stand: Stand, world: World) -> None:
    s = stand
    s.press(world.ryb_chat, world.card_a, "reject:", user=RYB)
    prompt = await s.wait(world.ryb_chat, "причину")
    s.official_replies(world.ryb_chat, prompt["message_id"], "Не наша дорога", user=RYB)
    triage_card = await s.wait(s.triage, f"№{world.a}")
    s.press(s.triage, triage_card, f"route:{world.a}:adm_uglichsky", user=OPERATOR)
    await s.wait(world.ugl_chat, f"№{world.a}")
    before = await state(s)
    # the old card's buttons (forged back onto it) and a reply to it, in the old account's chat
    for verb in ("take", "reject", "interim"):
        forged = s.tg.user_presses(world.ryb_chat, world.card_a["message_id"], RYB, f"{verb}:{world.a}")
        assert await toast(s, forged) == texts.ANSWER_REFUSED_OTHER_ACCOUNT.format(number=world.a)
    s.official_replies(world.ryb_chat, world.card_a["message_id"], "Запоздалый ответ", user=RYB)
    await s.wait(world.ryb_chat, "передано другому исполнителю")
    # the old reject prompt, answered again
    s.official_replies(world.ryb_chat, prompt["message_id"], "Ещё одна причина", user=RYB)
    await s.wait(world.ryb_chat, "передано другому исполнителю", count=2)
    await unchanged_after(s, before)
    assert not any("Запоздалый" in body(m) for m in s.tg.bot_messages(CITIZEN))


# --- replies ---------------------------------------------------------------------------------------


async def test_replies_from_strangers_anonymous_admins_other_chats_and_unknown_groups_answer_nothing(
    stand: Stand, world: World
) -> None:
    s = stand
    before = await state(s)
    card = world.card_a["message_id"]
    # someone Telegram reports as not in the chat
    s.tg.set_member(world.ryb_chat, STRANGER, "left")
    chat = group_chat(world.ryb_chat)
    push(s.tg, "message", raw_message(chat, user(STRANGER), text="Ответ постороннего",
                                      reply_to_message={"message_id": card, "date": 0, "chat": chat}))
    await s.wait(world.ryb_chat, "только участники чата")
    # an anonymous admin
    s.official_replies(world.ryb_chat, card, "Анонимный ответ", user=RYB,
                       sender_chat={"id": world.ryb_chat, "type": "supergroup", "title": "x"})
    await s.wait(world.ryb_chat, "от своего имени")
    # Uglich's member, in Uglich's chat, citing Rybinsk's card id (a message Uglich's chat may not have)
    ugl = group_chat(world.ugl_chat)
    push(s.tg, "message", raw_message(ugl, user(UGL), text="Чужой ответ",
                                      reply_to_message={"message_id": 987654, "date": 0, "chat": ugl}))
    # a group the bot has no role in (it would have left; the update comes anyway)
    unknown = group_chat(UNKNOWN_GROUP)
    push(s.tg, "message", raw_message(unknown, user(RYB), text="Ответ из чужой группы",
                                      reply_to_message={"message_id": card, "date": 0, "chat": unknown}))
    # the supervisors' chat is not an account's
    sup = group_chat(int(s.config.supervisors.telegram_chat or 0))
    push(s.tg, "message", raw_message(sup, user(OPERATOR), text="Ответ кураторов",
                                      reply_to_message={"message_id": card, "date": 0, "chat": sup}))
    await unchanged_after(s, before)
    assert not any("Ответ по обращению" in body(m) for c in (CITIZEN, CITIZEN2) for m in s.tg.bot_messages(c))


async def test_a_triage_reply_reaches_only_appeals_waiting_for_triage(stand: Stand, world: World) -> None:
    # an operator replying in the triage chat to a message linked to a routed appeal: refused
    s = stand
    s.citizen_says("/new")
    await s.wait(CITIZEN, "новую проблему")
    s.citizen_says(RYBINSK_SECOND)
    c = appeal_number(await s.wait(CITIZEN, "принято", count=2))
    card_c = await s.wait(world.ryb_chat, f"№{c}")
    s.press(world.ryb_chat, card_c, "reject:", user=RYB)
    prompt = await s.wait(world.ryb_chat, "причину")
    s.official_replies(world.ryb_chat, prompt["message_id"], "Не наша дорога", user=RYB)
    triage_card = await s.wait(s.triage, f"№{c}")
    s.press(s.triage, triage_card, f"route:{c}:adm_rybinsky", user=OPERATOR)
    await s.wait(s.chat("adm_rybinsky"), f"№{c}")
    before = await state(s)
    s.official_replies(s.triage, triage_card["message_id"], "Ответ оператора после маршрутизации", user=OPERATOR)
    await s.wait(s.triage, "передано другому исполнителю")
    await unchanged_after(s, before)


# --- triage buttons --------------------------------------------------------------------------------


async def test_triage_buttons_work_only_in_the_triage_chat_for_its_members(stand: Stand, world: World) -> None:
    s = stand
    s.press(world.ryb_chat, world.card_a, "reject:", user=RYB)
    prompt = await s.wait(world.ryb_chat, "причину")
    s.official_replies(world.ryb_chat, prompt["message_id"], "Не наша дорога", user=RYB)
    triage_card = await s.wait(s.triage, f"№{world.a}")
    before = await state(s)

    # a route button forged in an account's chat, on that chat's own card
    forged = s.tg.user_presses(world.ugl_chat, world.card_b["message_id"], UGL, f"route:{world.a}:adm_uglichsky")
    assert await toast(s, forged) == texts.NOT_YOURS
    forged = s.tg.user_presses(world.ugl_chat, world.card_b["message_id"], UGL, f"route:{world.b}:adm_rybinsk")
    assert await toast(s, forged) == texts.NOT_YOURS
    # in the triage chat, naming another appeal than the card's
    forged = s.tg.user_presses(s.triage, triage_card["message_id"], OPERATOR, f"route:{world.b}:adm_rybinsk")
    assert await toast(s, forged) == texts.NOT_YOURS
    # the card's own appeal to an account that does not exist
    forged = s.tg.user_presses(s.triage, triage_card["message_id"], OPERATOR, f"route:{world.a}:no_such")
    assert await toast(s, forged) == texts.STALE_BUTTON
    # an account's verbs in the triage chat
    forged = s.tg.user_presses(s.triage, triage_card["message_id"], OPERATOR, f"take:{world.a}")
    assert await toast(s, forged) == texts.NOT_YOURS
    # the real button, pressed by someone who is not in the triage chat
    pressed = s.press(s.triage, triage_card, f"route:{world.a}:adm_uglichsky", user=RYB)
    assert await toast(s, pressed) == texts.ANSWER_REFUSED_NOT_MEMBER
    await unchanged_after(s, before)
    # a route button forged in the supervisors' chat
    sup = int(s.config.supervisors.telegram_chat or 0)
    s.tg.set_member(sup, OPERATOR)
    forged = s.tg.user_presses(sup, triage_card["message_id"], OPERATOR, f"route:{world.a}:adm_uglichsky")
    assert await toast(s, forged) == texts.NOT_YOURS
    await unchanged_after(s, before)


# --- commands --------------------------------------------------------------------------------------


async def test_lists_show_a_chat_only_its_own_and_supervisor_commands_stay_in_their_chat(
    stand: Stand, world: World
) -> None:
    s = stand
    s.tg.user_sends(world.ryb_chat, RYB, "/open")
    listed = body(await s.wait(world.ryb_chat, "Открытые обращения"))
    assert f"№{world.a}" in listed and f"№{world.b} " not in listed
    s.tg.user_sends(world.ugl_chat, UGL, "/open")
    listed = body(await s.wait(world.ugl_chat, "Открытые обращения"))
    assert f"№{world.b}" in listed and f"№{world.a} " not in listed
    s.tg.user_sends(world.ryb_chat, RYB, "/overdue")
    assert body(await s.wait(world.ryb_chat, texts.OVERDUE_EMPTY)) == texts.OVERDUE_EMPTY

    sup = int(s.config.supervisors.telegram_chat or 0)
    for chat, who in ((world.ryb_chat, RYB), (s.triage, OPERATOR)):
        for command in ("/rating", "/problems"):
            s.tg.user_sends(chat, who, command)
            await s.wait(chat, texts.COMMAND_ONLY_SUPERVISORS)
    # /open means nothing in the supervisors' chat; nothing at all answers in a group with no role
    s.tg.set_member(sup, OPERATOR)
    s.tg.user_sends(sup, OPERATOR, "/open")
    unknown = group_chat(UNKNOWN_GROUP)
    for command in ("/open", "/overdue", "/my"):
        push(s.tg, "message", raw_message(unknown, user(RYB), text=command,
                                          entities=[{"type": "bot_command", "offset": 0, "length": len(command)}]))
    await s.idle()
    assert not any("Открытые" in body(m) for m in s.tg.bot_messages(sup))
    assert not [m for m in s.tg.calls if m[0] == "sendMessage" and int(m[1].get("chat_id", 0)) == UNKNOWN_GROUP]


async def test_a_citizen_sees_and_rates_only_their_own(stand: Stand, world: World) -> None:
    s = stand
    s.tg.user_sends(CITIZEN2, CITIZEN2, "/my")
    mine = body(await s.wait(CITIZEN2, "Ваши обращения"))
    assert f"№{world.b} " in mine and f"№{world.a} " not in mine
    s.citizen_says("/my")
    mine = body(await s.wait(CITIZEN, "Ваши обращения"))
    assert f"№{world.a} " in mine and f"№{world.b} " not in mine

    # the official answers A; citizen 2 forges a rating of it on their own message
    s.official_replies(world.ryb_chat, world.card_a["message_id"], "Яму заделали сегодня утром, асфальт уложен.",
                       user=RYB)
    answer = await s.wait(CITIZEN, "Ответ по обращению")
    before = await state(s)
    theirs = s.tg.bot_messages(CITIZEN2)[-1]["message_id"]
    for data in (f"rate:{world.a}:yes", f"rate:{world.a}:no", f"place:{world.a}:uglichsky"):
        forged = s.tg.user_presses(CITIZEN2, theirs, CITIZEN2, data)
        assert await toast(s, forged) == texts.NOT_YOURS
    # the answer's real message id, but in citizen 2's own chat (another message there, or none)
    forged = s.tg.user_presses(CITIZEN2, answer["message_id"], CITIZEN2, f"rate:{world.a}:yes")
    assert await toast(s, forged) == texts.NOT_YOURS
    # staff verbs in a private chat
    for data in (f"take:{world.a}", f"route:{world.a}:adm_uglichsky", f"qsend:{world.a}"):
        forged = s.tg.user_presses(CITIZEN2, theirs, CITIZEN2, data)
        assert await toast(s, forged) == texts.STALE_BUTTON
    # citizen 2 pressing «forget» in citizen 1's chat (Telegram would not deliver it; the desk refuses anyway)
    forged = s.tg.user_presses(CITIZEN, answer["message_id"], CITIZEN2, "forget:yes")
    assert await toast(s, forged) == texts.NOT_YOURS
    await unchanged_after(s, before)
    # a citizen's commands in a group say nothing there and act on nobody
    s.tg.user_sends(world.ryb_chat, RYB, "/my")
    s.tg.user_sends(world.ryb_chat, RYB, "/forget")
    await s.idle()
    assert not any("Ваши обращения" in body(m) or "Удалить" in body(m) for m in s.tg.bot_messages(world.ryb_chat))
    assert await state(s) == before
    [appeal] = [a for a in await s.appeals() if a.id == world.a]
    assert appeal.status == Status.ANSWERED and appeal.rating is None


# --- VK: message_event -----------------------------------------------------------------------------


async def test_vk_presses_forged_for_other_appeals_do_nothing(vk_stand: Stand) -> None:
    s, vk = vk_stand, vk_stand.vk_side
    # a Telegram appeal for Rybinsk, and a VK appeal for the account answering in a VK chat
    s.citizen_says(RYBINSK_POTHOLE)
    a = appeal_number(await s.wait(CITIZEN, "принято"))
    await s.wait(s.chat("adm_rybinsk"), f"№{a}")
    s.vk_citizen_says(UGLICH_POTHOLE)
    b = appeal_number(await s.vk_wait(VK_CITIZEN, "принято"))
    card_b = await s.vk_wait(VK_ACCOUNT_PEER, f"№{b}")
    assert {x.id: x.account_code for x in await s.appeals()}[b] == VK_ACCOUNT
    before = await state(s)

    async def vk_toast(event_id: str) -> str:
        answer = await vk.wait_for(lambda: vk.event_answers.get(event_id))
        await s.idle()
        return str(answer.get("text") or "")

    cmid = card_b["conversation_message_id"]
    for data in (f"take:{a}", f"reject:{a}", f"interim:{a}", f"route:{a}:{VK_ACCOUNT}", f"route:{b}:adm_rybinsk",
                 f"rate:{b}:yes"):
        forged = vk.user_presses(VK_ACCOUNT_PEER, cmid, VK_OFFICIAL, json.dumps({"a": data}), forge=True)
        assert await vk_toast(forged) in (texts.NOT_YOURS, texts.STALE_BUTTON), data
    # a VK citizen rating or placing another's appeal from their own dialog
    vk.user_sends(VK_CITIZEN2, VK_CITIZEN2, "/my")
    theirs = await s.vk_wait(VK_CITIZEN2, "нет обращений")
    for data in (f"rate:{b}:yes", f"place:{b}:uglichsky", f"take:{b}"):
        forged = vk.user_presses(VK_CITIZEN2, theirs["conversation_message_id"], VK_CITIZEN2,
                                 json.dumps({"a": data}), forge=True)
        assert await vk_toast(forged) in (texts.NOT_YOURS, texts.STALE_BUTTON), data
    appeals, events, messages, citizens, bindings, _ = await state(s)
    assert (appeals, events, messages, bindings) == (before[0], before[1], before[2], before[4])


# --- deadline alerts -------------------------------------------------------------------------------


@pytest.fixture
async def fast(database_url: str) -> Any:
    from tests.e2e.test_deadlines_e2e import _stand, fast_config

    async for clock_stand in _stand(quick_config(fast_config()), database_url):
        yield clock_stand


async def test_alerts_are_answered_only_in_the_accounts_chat(fast: Any) -> None:
    from tests.e2e.test_deadlines_e2e import HIGHER

    s = fast
    t0 = s.clock.now()
    s.citizen_says(RYBINSK_POTHOLE)
    number = appeal_number(await s.wait(CITIZEN, "принято"))
    ryb, ugl = s.chat("adm_rybinsk"), s.chat("adm_uglichsky")
    await s.wait(ryb, f"№{number}")
    await s.at(5, t0)
    [reminder] = s.said(ryb, "Напоминание")
    await s.at(25, t0)
    [alert] = [m for m in s.tg.bot_messages(s.supervisors) if f"№{number}" in body(m)]
    [higher] = [m for m in s.tg.bot_messages(HIGHER) if f"№{number}" in body(m)]
    before = await state(s)
    # a reply in the supervisors' or the higher chat answers nothing: they watch, the account answers
    s.tg.set_member(s.supervisors, OPERATOR)
    s.official_replies(s.supervisors, alert["message_id"], "Ответ куратора", user=OPERATOR)
    s.official_replies(HIGHER, higher["message_id"], "Ответ вице-губернатора", user=OPERATOR)
    # someone no longer in the account's chat, replying to its reminder
    s.tg.set_member(ryb, STRANGER, "left")
    chat = group_chat(ryb)
    push(s.tg, "message", raw_message(chat, user(STRANGER), text="Ответ постороннего",
                                      reply_to_message={"message_id": reminder["message_id"], "date": 0, "chat": chat}))
    await s.wait(ryb, "только участники чата")
    # /overdue in another account's chat does not show this appeal; in the higher chat it does
    s.tg.user_sends(ugl, OFFICIAL_UGL, "/overdue")
    assert body(await s.wait(ugl, texts.OVERDUE_EMPTY)) == texts.OVERDUE_EMPTY
    s.tg.user_sends(HIGHER, OPERATOR, "/overdue")
    assert f"№{number}" in body(await s.wait(HIGHER, "Просрочено"))
    await unchanged_after(s, before)
