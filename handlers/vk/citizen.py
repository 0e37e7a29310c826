"""Citizens' private dialogs with the community."""
from __future__ import annotations

from handlers.buttons import RATINGS, rate_appeal, rated_toast
from handlers.vk.convert import parse_action
from routing import texts
from routing.desk import AppealDesk
from routing.inbound import InboundAction, InboundMessage, looks_like_command


async def on_message(desk: AppealDesk, inbound: InboundMessage, command: str | None) -> None:
    if command == "start":
        await desk.citizen_start(inbound)
    elif command == "help":
        await desk.citizen_help(inbound)
    elif command == "new":
        await desk.citizen_new(inbound)
    elif command == "my":
        await desk.citizen_list(inbound)
    elif command == "forget":
        await desk.privacy.prompt(inbound)
    elif command is not None and looks_like_command(inbound.text):
        await desk.citizen_unknown_command(inbound)
    else:
        await desk.citizen_message(inbound)


async def on_press(desk: AppealDesk, action: InboundAction) -> str | None:
    """A callback button in the dialog; returns the snackbar text."""
    place = parse_action(action.action, "place", 2)
    if place is not None:
        return (await desk.choose_municipality(action, int(place[0]), place[1])).toast
    rating = parse_action(action.action, "rate", 2)
    if rating is not None and rating[1] in RATINGS:
        return (await rate_appeal(desk, action, int(rating[0]), rating[1])).toast
    rated = parse_action(action.action, "rated", 2)
    if rated is not None:  # the button a rated answer keeps: its press only repeats the choice
        return rated_toast(rated)
    if action.action in ("forget:yes", "forget:no"):
        return (await desk.privacy.confirm(action, action.action == "forget:yes")).toast
    return texts.STALE_BUTTON
