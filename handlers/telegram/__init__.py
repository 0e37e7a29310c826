"""Telegram adapter: aiogram routers that turn updates into lifecycle calls and nothing more."""
from __future__ import annotations

from typing import Any

from aiogram import Dispatcher

from handlers.telegram.citizen import citizen_router
from handlers.telegram.invites import invite_router
from handlers.telegram.staff import MembershipCheck, staff_router
from routing.desk import AppealDesk


def build_dispatcher(desk: AppealDesk, membership: MembershipCheck | None = None, **services: Any) -> Dispatcher:
    # services (e.g. supervision=SupervisorDesk) reach handlers as arguments, like the desk
    dispatcher = Dispatcher(desk=desk, **services)
    dispatcher.include_router(citizen_router())
    dispatcher.include_router(invite_router())
    dispatcher.include_router(staff_router(membership or MembershipCheck()))
    return dispatcher
