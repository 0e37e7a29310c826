"""The `analytics:` section of config.yaml: the rating's weights and sample rules, spike detection,
near-duplicate grouping, the answer-quality hold and the weekly report's time. Every key has a default."""
from __future__ import annotations

from datetime import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatingWeights(_Section):
    on_time: float = Field(0.4, ge=0)
    satisfaction: float = Field(0.3, ge=0)
    not_reopened: float = Field(0.15, ge=0)
    not_flagged: float = Field(0.15, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> RatingWeights:
        if self.on_time + self.satisfaction + self.not_reopened + self.not_flagged <= 0:
            raise ValueError("at least one weight must be above 0")
        return self

    def as_dict(self) -> dict[str, float]:
        return {"on_time": self.on_time, "satisfaction": self.satisfaction, "not_reopened": self.not_reopened,
                "not_flagged": self.not_flagged}


class RatingSettings(_Section):
    # fewer appeals than this in the period: shown, but not ranked ("мало данных")
    min_sample: int = Field(5, ge=1)
    # pseudo-appeals at the regional mean added to every share before it is scored
    prior_weight: float = Field(5.0, ge=0)
    weights: RatingWeights = RatingWeights()


class SpikeSettings(_Section):
    window_minutes: int = Field(60, ge=1)
    baseline_days: int = Field(28, ge=1)
    min_count: int = Field(5, ge=2)
    # Poisson upper-tail probability of the window's count under the usual rate must be below this
    p_value: float = Field(0.001, gt=0, lt=1)
    # the usual rate is never taken below this many appeals per window (an empty history is not "zero")
    min_rate: float = Field(0.05, gt=0)
    cooldown_hours: float = Field(6.0, ge=0)
    check_every_seconds: float = Field(300.0, gt=0)


class DuplicateSettings(_Section):
    enabled: bool = True
    window_hours: float = Field(48.0, gt=0)
    radius_m: float = Field(300.0, gt=0)


class AnalyticsConfig(_Section):
    rating: RatingSettings = RatingSettings()
    spikes: SpikeSettings = SpikeSettings()
    duplicates: DuplicateSettings = DuplicateSettings()
    # hold an answer the отписка detector flags until the official sends it anyway or rewrites it
    hold_flagged_answers: bool = True
    # "mon 09:00": the weekly report (last full week) to the supervisors' chat, local time; null = off
    weekly_report: str | None = "mon 09:00"

    @field_validator("weekly_report")
    @classmethod
    def _day_and_time(cls, value: str | None) -> str | None:
        if value is not None:
            parse_weekly(value)
        return value

    def weekly_at(self) -> tuple[int, time] | None:
        return None if self.weekly_report is None else parse_weekly(self.weekly_report)


def parse_weekly(value: Any) -> tuple[int, time]:
    """'mon 09:00' -> (0, 09:00): weekday (Monday 0) and local time."""
    parts = str(value).split()
    if len(parts) != 2 or parts[0].lower()[:3] not in _DAYS:
        raise ValueError(f"expected a day and a time like 'mon 09:00', got {value!r}")
    try:
        at = time.fromisoformat(parts[1] if len(parts[1]) > 4 else "0" + parts[1])
    except ValueError as exc:
        raise ValueError(f"expected a day and a time like 'mon 09:00', got {value!r}") from exc
    return _DAYS[parts[0].lower()[:3]], at
