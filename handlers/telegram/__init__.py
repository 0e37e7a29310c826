"""Telegram adapter: aiogram routers that turn updates into lifecycle calls and nothing more."""
from __future__ import annotations

from aiogram import Dispatcher

from handlers.telegram.citizen import citizen_router
from handlers.telegram.staff import MembershipCheck, staff_router
from routing.desk import AppealDesk


def build_dispatcher(desk: AppealDesk, membership: MembershipCheck | None = None) -> Dispatcher:
    dispatcher = Dispatcher(desk=desk)
    dispatcher.include_router(citizen_router())
    dispatcher.include_router(staff_router(membership or MembershipCheck()))
    return dispatcher
