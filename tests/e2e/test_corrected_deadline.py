"""A topic corrected by the operators' choice brings its own deadline when the policy gives that topic
terms of its own: counted from when the citizen wrote (not from the correction), told to the citizen,
shown on the new card, and followed by reminders and overdue alerts. With the same terms nothing moves."""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from routing.sla import SlaConfig
from tests.conftest import CITIZEN, OPERATOR, appeal_number, body
from tests.e2e.test_deadlines_e2e import ClockStand, _stand, fast_config
from tests.e2e.test_trained_router import MIDWIFE


def _gas_in_four_seconds() -> SlaConfig:
    """The fast policy (first answer in 10 s) with gas answered in 4 s."""
    sla = fast_config().sla
    return SlaConfig.model_validate({**sla.model_dump(), "categories": {"gas": {"first_answer": "4s", "resolution": "20s"}}})


@pytest.fixture
async def gas_fast(database_url: str) -> AsyncIterator[ClockStand]:
    config = fast_config().model_copy(update={"sla": _gas_in_four_seconds()})
    async for stand in _stand(config, database_url):
        yield stand


async def _routed_to_gas(stand: ClockStand) -> int:
    stand.citizen_says(MIDWIFE)  # unsure health: the operators decide
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    card = await stand.wait(stand.triage, f"№{number}")
    stand.clock.advance(timedelta(seconds=1))  # the operator takes a second to choose
    stand.press(stand.triage, card, f"route:{number}:gas_operator", user=OPERATOR)
    await stand.wait(stand.chat("gas_operator"), f"№{number}")
    await stand.idle()
    return number


async def test_a_topic_with_terms_of_its_own_moves_the_deadline(gas_fast: ClockStand) -> None:
    stand = gas_fast
    number = await _routed_to_gas(stand)
    [appeal] = await stand.appeals()
    assert appeal.category == "gas"
    # gas's 4 s from the moment the citizen wrote, not from the operator's press
    assert appeal.first_answer_due == appeal.created_at + timedelta(seconds=4)
    assert appeal.resolution_due == appeal.created_at + timedelta(seconds=20)
    told = stand.said(CITIZEN, "передали в")
    assert len(told) == 1 and "Новый срок ответа" in body(told[0])
    [[detail]] = await stand.query(
        "SELECT detail FROM appeal_events WHERE appeal_id = :a AND action = 'corrected'", a=number)
    assert "due" in str(detail)
    # the reminders follow the new deadline: half of 4 s, not half of 10 s
    assert appeal.next_alert_at == appeal.created_at + timedelta(seconds=2)
    await stand.at(5, appeal.created_at)  # past gas's deadline, well before the default one
    overdue = stand.said(stand.chat("gas_operator"), "просрочено")
    assert len(overdue) == 1 and f"№{number}" in body(overdue[0])


async def test_the_same_terms_leave_the_deadline(database_url: str) -> None:
    async for stand in _stand(fast_config(), database_url):  # every topic has the default terms
        await _routed_to_gas(stand)
        [appeal] = await stand.appeals()
        assert appeal.category == "gas"
        assert appeal.first_answer_due == appeal.created_at + timedelta(seconds=10)
        told = stand.said(CITIZEN, "передали в")
        assert len(told) == 1 and "Новый срок" not in body(told[0])
