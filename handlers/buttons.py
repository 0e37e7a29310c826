"""The buttons under a card (and under a held answer) that act on one appeal, «verb:<appeal id>»:
one table for both platforms' handlers, so a button the desk shows works wherever the chat is."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from routing import texts
from routing.desk import AppealDesk
from routing.inbound import ActionResult, InboundAction

# verb -> the AppealDesk method that handles it
APPEAL_BUTTONS = {
    "take": "take",
    "reject": "reject",
    "interim": "interim",
    "qsend": "send_held_answer",  # a held answer (a possible отписка) sent as it is
    "qredo": "rewrite_answer",
    "dismiss": "dismiss",  # «Не обращение» under a triage card: asks for the reason
    "ask": "ask_citizen",  # «Спросить жителя» under a triage card: a question, the appeal stays there
}


def appeal_use_case(desk: AppealDesk, verb: str) -> Callable[[InboundAction, int], Awaitable[ActionResult]]:
    use_case: Callable[[InboundAction, int], Awaitable[ActionResult]] = getattr(desk, APPEAL_BUTTONS[verb])
    return use_case

# «verb:<appeal id>:<choice>» under a triage card (the account) and under its «Не обращение» (the reason)
TRIAGE_BUTTONS = {"route": "route_from_triage", "close": "close_from_triage"}


def triage_use_case(desk: AppealDesk, verb: str) -> Callable[[InboundAction, int, str], Awaitable[ActionResult]]:
    use_case: Callable[[InboundAction, int, str], Awaitable[ActionResult]] = getattr(desk, TRIAGE_BUTTONS[verb])
    return use_case


# «rate:<appeal id>:<verdict>» under an answer: verdict -> (solved, partly)
RATINGS = {"yes": (True, False), "part": (False, True), "no": (False, False)}


async def rate_appeal(desk: AppealDesk, action: InboundAction, appeal_id: int, verdict: str) -> ActionResult:
    solved, partly = RATINGS[verdict]
    return await desk.rate(action, appeal_id, solved, partly=partly)


def rated_toast(parsed: list[str] | None) -> str:
    """The toast of «rated:<appeal id>:<verdict>», the button a rated answer keeps (`parsed` as the
    platform's parse_action reads it): its press only repeats the choice."""
    return texts.RATED_TOAST.get(parsed[1], texts.ALREADY_RATED) if parsed else texts.ALREADY_RATED
