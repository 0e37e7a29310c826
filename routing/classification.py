"""The classifier's contract: text (+ what we already know) -> category and municipality."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Suggestion:
    code: str
    confidence: float


@dataclass(frozen=True)
class Classification:
    category: str  # a category code from config; "other" when nothing matches
    category_confidence: float  # 0..1
    municipality: str | None  # a municipality code, or None when the text does not decide
    municipality_confidence: float  # 0..1 (0 when municipality is None)
    category_suggestions: tuple[Suggestion, ...] = ()  # best first, for triage buttons
    municipality_suggestions: tuple[Suggestion, ...] = ()
    # The text names a route between municipalities or out of the region («автобус Ярославль -
    # Кострома»): no single municipality (None), but a region-wide account may own the problem.
    intermunicipal: bool = False


class Classifier(Protocol):
    def classify(
        self,
        text: str,
        *,
        location: tuple[float, float] | None = None,
        known_municipality: str | None = None,
    ) -> Classification: ...
