"""Sliding-window rate limits: no window position ever holds more than its limit."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.limits import DeliveryConfig, PlatformLimits, RateLimiter, SlidingWindow, Window


def test_group_window_spreads_a_burst_over_minutes() -> None:
    window = SlidingWindow([Window(limit=3, seconds=3), Window(limit=20, seconds=60)])
    now, sent = 0.0, []
    for _ in range(45):
        now += window.wait(now)
        window.record(now)
        sent.append(now)
    # 20 in the first minute (in bursts of 3 every 3 s), the 21st only when the first leaves
    assert sent[:3] == [0.0, 0.0, 0.0] and abs(sent[3] - 3.0) < 1e-3
    assert abs(sent[19] - 18.0) < 1e-3 and abs(sent[20] - 60.0) < 1e-3
    assert abs(sent[40] - 120.0) < 1e-3


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=120),
    st.integers(min_value=1, max_value=10),
    st.floats(min_value=0.1, max_value=10, allow_nan=False),
)
def test_no_window_position_exceeds_the_limit(gaps: list[float], limit: int, seconds: float) -> None:
    window = SlidingWindow([Window(limit=limit, seconds=seconds)])
    now, sent = 0.0, []
    for gap in gaps:  # messages wanted at arbitrary moments; each waits as long as it must
        now += gap
        now += window.wait(now)
        window.record(now)
        sent.append(now)
    for t in sent:
        assert sum(1 for x in sent if t - seconds < x <= t) <= limit


async def test_limiter_paces_a_chat_and_keeps_the_overall_window() -> None:
    fake_now = [0.0]
    config = DeliveryConfig(
        telegram=PlatformLimits(private_chat=[Window(limit=1, seconds=1)], overall=[Window(limit=2, seconds=1)]),
        margin_seconds=0,
    )
    limiter = RateLimiter(config, lambda chat: not chat[1].startswith("-"), clock=lambda: fake_now[0])
    await limiter.acquire(("tg", "1"))
    await limiter.acquire(("tg", "2"))
    assert abs(limiter.chat_wait(("tg", "1")) - 1.0) < 1e-3
    assert abs(limiter._overall["tg"].wait(0.0) - 1.0) < 1e-3  # the third message overall waits a second


async def test_limits_can_be_switched_off() -> None:
    limiter = RateLimiter(DeliveryConfig(rate_limits=False), lambda chat: True)
    for _ in range(100):
        await limiter.acquire(("tg", "1"))
    assert limiter.chat_wait(("tg", "1")) == 0.0
