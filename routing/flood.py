"""Per-citizen flood control: at most N messages in any window of S seconds (a sliding window,
measured by the platform's send time of each message, so a backlog delivered after downtime is
judged by when the citizen wrote it). An album counts once. The state lives in the process: a
restart forgets who was flooding, which only ever errs towards accepting."""
from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from routing.inbound import InboundMessage


class Flood(enum.Enum):
    OK = "ok"  # within the limit: handle as usual
    FIRST_EXCESS = "first_excess"  # the first one over the limit: tell the citizen, once
    EXCESS = "excess"  # further ones over the limit: keep quietly


@dataclass
class _Citizen:
    # unit (a message key, or an album id) -> (send time, verdict it got); oldest first
    units: OrderedDict[str, tuple[datetime, Flood]] = field(default_factory=OrderedDict)
    noticed: bool = False  # told about this flood already
    held: bool | None = None  # has messages kept back from the officials; None: not known yet


class FloodGuard:
    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit  # 0: no limit
        self.window = window
        self._citizens: dict[tuple[str, str], _Citizen] = {}
        self._calls = 0
        self.any_held_in_database: bool | None = None  # asked once per process (see AppealDesk)

    def check(self, msg: InboundMessage) -> Flood:
        """The verdict for this message. Asking again about the same message (a redelivered
        update, a batch replayed one by one) or another part of the same album gives the same
        verdict, so nothing is counted twice."""
        if self.limit <= 0:
            return Flood.OK
        state = self._citizens.setdefault((msg.platform, msg.sender.user_id), _Citizen())
        unit = f"album:{msg.media_group}" if msg.media_group else msg.key
        known = state.units.get(unit)
        if known is not None:
            return known[1]
        self._forget_old(state, msg.at)
        inside = sum(1 for at, _ in state.units.values() if at > msg.at - self.window)
        if inside < self.limit:
            verdict = Flood.OK
            state.noticed = False
        elif state.noticed:
            verdict = Flood.EXCESS
        else:
            verdict = Flood.FIRST_EXCESS
            state.noticed = True
        state.units[unit] = (msg.at, verdict)
        self._calls += 1
        if self._calls % 1000 == 0:
            self._prune(msg.at)
        return verdict

    def held(self, platform: str, user_id: str) -> bool | None:
        state = self._citizens.get((platform, user_id))
        return None if state is None else state.held

    def set_held(self, platform: str, user_id: str, held: bool) -> None:
        self._citizens.setdefault((platform, user_id), _Citizen()).held = held

    def _forget_old(self, state: _Citizen, now: datetime) -> None:
        # units arrive in send order, give or take a second: drop from the front while outside
        horizon = now - self.window - timedelta(seconds=1)
        while state.units:
            unit, (at, _) = next(iter(state.units.items()))
            if at > horizon:
                break
            del state.units[unit]

    def _prune(self, now: datetime) -> None:
        # citizens who went quiet and have nothing held cost memory for nothing
        for who, state in list(self._citizens.items()):
            self._forget_old(state, now)
            if not state.units and not state.held:
                del self._citizens[who]
