"""The operators answer a citizen themselves, by replying to the triage card: the card then says so
and loses its buttons, and a «Не решено» brings the appeal back to them as a card they can act on —
with the citizen's further words reaching the triage chat, not a chat that isn't there."""
from __future__ import annotations

from routing.lifecycle import Status
from tests.conftest import CITIZEN, OPERATOR, Stand, appeal_number, body, buttons
from tests.e2e.test_trained_router import MIDWIFE

ANSWER = "Выезды акушерки в Мышкин с января — каждую неделю, по вторникам, приём в ФАПе."


async def _answered_by_operators(stand: Stand) -> tuple[int, dict, dict]:
    stand.citizen_says(MIDWIFE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    card = await stand.wait(stand.triage, f"№{number}")
    stand.official_replies(stand.triage, card["message_id"], ANSWER, user=OPERATOR)
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert ANSWER in body(answer) and "Центр управления регионом" in body(answer)
    return number, card, answer


async def test_the_triage_card_shows_the_operators_answer(stand: Stand) -> None:
    number, card, _ = await _answered_by_operators(stand)
    # before, the card kept «выбираем исполнителя» and every route button (each only «не действует»)
    await stand.tg.wait_for(lambda: "операторы ответили сами" in body(stand.current(stand.triage, card["message_id"])))
    assert buttons(stand.current(stand.triage, card["message_id"])) == []
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ANSWERED and appeal.account_code is None


async def test_not_solved_comes_back_to_the_operators(stand: Stand) -> None:
    number, card, answer = await _answered_by_operators(stand)
    stand.press(CITIZEN, answer, f"rate:{number}:no", user=CITIZEN)
    await stand.wait(CITIZEN, "снова открыто")
    again = await stand.wait(stand.triage, "«Не решено»")
    assert f"№{number}" in body(again) and "Нужен исполнитель" in body(again)
    assert "🚫 Не обращение — закрыть" in buttons(again)
    [appeal] = await stand.appeals()
    assert appeal.status == Status.TRIAGE and appeal.rating == "not_solved"

    # the citizen's next words reach the triage chat (before: «Добавили к обращению», and no chat got them)
    stand.citizen_says("Акушерка так и не приехала во вторник")
    await stand.wait(CITIZEN, f"Добавили к обращению №{number}")
    await stand.wait(stand.triage, "Акушерка так и не приехала во вторник")
    # the operators can act on it: route it (or answer again)
    stand.press(stand.triage, again, f"route:{number}:min_health", user=OPERATOR)
    await stand.wait(stand.chat("min_health"), f"№{number}")
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ROUTED and appeal.account_code == "min_health"
    # both triage cards now say where it went
    for message in (card, again):
        await stand.tg.wait_for(lambda m=message: "направлено" in body(stand.current(stand.triage, m["message_id"])))
