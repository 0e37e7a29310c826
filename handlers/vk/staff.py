"""Account, triage and supervisors' chats (беседы) on VK.

Unlike Telegram, nobody is asked about membership: VK delivers a chat's messages and button presses
only from its participants, and keeps no anonymous senders (a community posting in a chat is refused).

A chat becomes an account's chat either by its peer id in the config (`accounts[].vk_peer`) or by an
invite code (`otklik invite ACCOUNT --vk`): someone in the chat writes `/bind <code>`. VK has no deep
links into chats, so the code is typed; a refused code is explained, and the community stays (an
admin who mistyped the code just writes it again)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from handlers.buttons import APPEAL_BUTTONS, TRIAGE_BUTTONS, appeal_use_case, triage_use_case
from handlers.vk.convert import PLATFORM, parse_action
from routing import texts
from routing.desk import AppealDesk
from routing.inbound import InboundAction, InboundMessage

if TYPE_CHECKING:
    from bot.supervision import SupervisorDesk

log = logging.getLogger(__name__)
BIND_COMMANDS = ("bind", "start")  # `/start <code>` too: what a Telegram admin would type out of habit
_unknown_chats_told: set[str] = set()


async def on_message(
    desk: AppealDesk, inbound: InboundMessage, command: str | None, supervision: SupervisorDesk | None = None
) -> None:
    if command in ("rating", "problems", "routing") and supervision is not None:
        # the supervisors' charts; SupervisorDesk itself refuses them outside the supervisors' chat
        await supervision.command(inbound, command)
        return
    if command in BIND_COMMANDS:
        code = invite_code_of(inbound.text)
        if code is not None:
            await desk.invites.bind(inbound, code, leave_if_refused=False)
            return
    if desk.chat_role(PLATFORM, inbound.chat_id).kind == "unknown":
        if inbound.chat_id not in _unknown_chats_told:
            # how an admin learns a new chat's peer id for accounts[].vk_peer; once per chat, not per message
            _unknown_chats_told.add(inbound.chat_id)
            log.warning("VK chat %s is not in the config (vk_peer) nor bound by an invite (/bind <code>); "
                        "the bot ignores it", inbound.chat_id)
        return
    if command == "open":
        await desk.open_list(inbound)
    elif command == "card":
        await desk.show_card(inbound)
    elif command == "help":
        await desk.staff_help(inbound)
    elif command == "overdue":
        await desk.deadlines.overdue_list(inbound)
    elif inbound.reply_to is not None:
        if int(inbound.sender.user_id) <= 0:
            # an answer must have a person behind it, not another community or bot
            await desk.refuse(inbound, texts.ANSWER_REFUSED_ANONYMOUS)
            return
        await desk.staff_message(inbound)


def invite_code_of(text: str) -> str | None:
    """The code in "/bind <code>" (the command's first argument), None when there is none."""
    words = text.split()
    return words[1][:64] if len(words) >= 2 else None


async def on_press(desk: AppealDesk, action: InboundAction) -> str | None:
    """A callback button under a card, a held answer or a triage card; returns the snackbar text."""
    verb = action.action.split(":", 1)[0]
    if verb in APPEAL_BUTTONS:
        parsed = parse_action(action.action, verb, 1)
        if parsed is None:
            return texts.STALE_BUTTON
        return (await appeal_use_case(desk, verb)(action, int(parsed[0]))).toast
    if verb in TRIAGE_BUTTONS:
        chosen = parse_action(action.action, verb, 2)
        if chosen is None:
            return texts.STALE_BUTTON
        return (await triage_use_case(desk, verb)(action, int(chosen[0]), chosen[1])).toast
    return texts.STALE_BUTTON
