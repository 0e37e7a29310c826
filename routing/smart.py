"""The trained classifier behind the `Classifier` protocol: topic model + keywords + place resolver.

- The topic model gives calibrated probabilities over the rubric.
- The config's per-category keywords are the operators' way to correct it without retraining:
  every word a category's keywords cover multiplies that category's odds (then renormalised), so
  a keyword settles a close call but does not overturn a confident model on its own.
- The place resolver names the municipality, or says it cannot (None) so the bot asks; a route
  between municipalities or out of the region is flagged `intermunicipal` (see routing.table).

Importing this module is cheap: the model, pymorphy3 and scikit-learn load on the first
`classify` (or on `warm_up()`, which the bot may call at start-up).
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routing.classification import Classification, Suggestion

if TYPE_CHECKING:
    from routing.keywords import KeywordIndex
    from routing.places import PlaceResolution, PlaceResolver
    from routing.topics import TopicModel

FALLBACK_CATEGORY = "other"
KEYWORD_BOOST = 1.6  # log-odds added per keyword-covered word (x5 odds): decides ties, not the whole call
MAX_KEYWORD_WORDS = 3  # a long list of hits says no more than three
DEFAULT_MODEL_NAMES = {"", "default", "seed"}  # model_path values meaning "the shipped seed model"


@dataclass(frozen=True)
class CategoryKeywords:
    code: str
    keywords: tuple[str, ...]


class ModelClassifier:
    """Classifies a citizen's message: category with confidence, municipality or None."""

    def __init__(
        self,
        model: TopicModel | Callable[[], TopicModel],
        *,
        categories: Sequence[CategoryKeywords] | None = None,
        resolver: PlaceResolver | Callable[[], PlaceResolver] | None = None,
        keyword_boost: float = KEYWORD_BOOST,
        fallback: str = FALLBACK_CATEGORY,
    ) -> None:
        self._model_source = model
        self._resolver_source = resolver
        self._categories = list(categories) if categories is not None else None
        self._keyword_boost = keyword_boost
        self._fallback = fallback
        self._lock = threading.Lock()
        self._ready: tuple[TopicModel, PlaceResolver | None, list[str], Any] | None = None

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: Any) -> ModelClassifier:
        """From the loaded config: its categories and keywords, municipalities, and model_path.

        `classifier.model_path` empty (or "default") means the seed model for the shipped rubric.
        """
        model_path = getattr(getattr(config, "classifier", None), "model_path", None)
        if model_path is None or str(model_path).strip().lower() in DEFAULT_MODEL_NAMES:
            model_loader: Callable[[], TopicModel] = _default_model
        else:
            resolved = Path(config.resolve_path(model_path))

            def model_loader() -> TopicModel:
                return _load_model(resolved)

        categories = [CategoryKeywords(c.code, tuple(c.keywords or ())) for c in config.categories]

        def resolver() -> PlaceResolver:
            from routing.places import PlaceResolver

            return PlaceResolver.from_config(config)

        return cls(model_loader, categories=categories, resolver=resolver)

    def warm_up(self) -> ModelClassifier:
        """Load the model and the gazetteer now rather than on the first message."""
        self._parts()
        return self

    def _parts(self) -> tuple[TopicModel, PlaceResolver | None, list[str], Any]:
        if self._ready is not None:
            return self._ready
        with self._lock:
            if self._ready is None:
                model = self._model_source if not callable(self._model_source) else self._model_source()
                source = self._resolver_source
                resolver = source() if callable(source) else source
                codes = [c.code for c in self._categories] if self._categories is not None else list(model.classes)
                if self._fallback not in codes:
                    codes.append(self._fallback)
                self._ready = (model, resolver, codes, self._compile_keywords())
        return self._ready

    def _compile_keywords(self) -> KeywordIndex:
        from routing.keywords import KeywordIndex, compile_phrase

        phrases = []
        for category in self._categories or []:
            for keyword in category.keywords:
                phrase = compile_phrase(category.code, keyword)
                if phrase is not None:
                    phrases.append(phrase)
        return KeywordIndex(phrases)

    @property
    def model(self) -> TopicModel:
        return self._parts()[0]

    # ---- classification -------------------------------------------------------------------
    def classify(
        self,
        text: str,
        *,
        location: tuple[float, float] | None = None,
        known_municipality: str | None = None,
    ) -> Classification:
        return self.classify_many([text], locations=[location], known_municipalities=[known_municipality])[0]

    def classify_many(
        self,
        texts: Sequence[str],
        *,
        locations: Sequence[tuple[float, float] | None] | None = None,
        known_municipalities: Sequence[str | None] | None = None,
    ) -> list[Classification]:
        """Batch form of `classify`: one model call for all texts (much faster for files)."""
        model, resolver, codes, phrases = self._parts()
        proba = model.predict_proba(list(texts)) if texts else None
        index = {c: i for i, c in enumerate(model.classes)}
        results = []
        for n, text in enumerate(texts):
            location = locations[n] if locations else None
            known = known_municipalities[n] if known_municipalities else None
            places = resolver.resolve(text, location) if resolver is not None and known is None else None
            masked = _mask_places(text, places)
            scores = self._category_scores(proba[n] if proba is not None else None, index, codes, masked, phrases)
            ranked = sorted(scores.items(), key=lambda kv: -kv[1])
            category, confidence = ranked[0]
            category_suggestions = tuple(Suggestion(c, round(p, 3)) for c, p in ranked[:3])
            intermunicipal = False
            if known is not None:
                municipality, mun_conf = known, 1.0
                mun_suggestions: tuple[Suggestion, ...] = (Suggestion(known, 1.0),)
            elif places is not None:
                municipality, mun_conf = places.municipality, places.confidence
                mun_suggestions = tuple(Suggestion(c, p) for c, p in places.suggestions)
                intermunicipal = municipality is None and places.reason == "route"
            else:
                municipality, mun_conf, mun_suggestions = None, 0.0, ()
            results.append(Classification(
                category=category,
                category_confidence=round(confidence, 3),
                municipality=municipality,
                municipality_confidence=round(mun_conf, 3) if municipality is not None else 0.0,
                category_suggestions=category_suggestions,
                municipality_suggestions=mun_suggestions,
                intermunicipal=intermunicipal,
            ))
        return results

    def _category_scores(self, proba: Any, index: dict[str, int], codes: Sequence[str], text: str,
                         phrases: KeywordIndex) -> dict[str, float]:
        # Categories the model does not know (a region's own rubric) start from a small floor.
        floor = 1e-3
        base = {c: max(float(proba[index[c]]), floor) if proba is not None and c in index else floor for c in codes}
        hits = keyword_hits(text, phrases)
        if self._fallback in hits and len(hits) > 1:
            del hits[self._fallback]  # «спасибо» at the end of a complaint does not make it "other"
        logits = {c: math.log(p) + self._keyword_boost * min(hits.get(c, 0), MAX_KEYWORD_WORDS)
                  for c, p in base.items()}
        top = max(logits.values())
        exp = {c: math.exp(v - top) for c, v in logits.items()}
        total = sum(exp.values())
        return {c: v / total for c, v in exp.items()}


def keyword_hits(text: str, phrases: KeywordIndex) -> dict[str, int]:
    """Words of the text covered by each category's keywords (the config's matching rules)."""
    from routing.keywords import words_of

    covered: dict[str, set[int]] = {}
    for phrase, start, end in phrases.find(words_of(text)):
        covered.setdefault(phrase.owner, set()).update(range(start, end))
    return {code: len(positions) for code, positions in covered.items()}


def _mask_places(text: str, places: PlaceResolution | None) -> str:
    """Blank out place names so «Гаврилов-Ям» is no pothole («ям») for the keywords."""
    if places is None or not places.matches:
        return text
    chars = list(text)
    for match in places.matches:
        for i in range(match.char_start, match.char_end):
            chars[i] = " "
    return "".join(chars)


def _default_model() -> TopicModel:
    from routing.training import default_model

    return default_model()


def _load_model(path: Path) -> TopicModel:
    from routing.topics import TopicModel

    return TopicModel.load(path)
