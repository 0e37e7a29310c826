"""The keyword classifier: word-stem hits decide the category and the municipality.

A deliberately small, explainable matcher for the first months; a trained classifier replaces it
behind the same `Classifier` protocol. Matching rules (also explained in config.yaml):
text is lowercased, «ё» becomes «е», everything but letters and digits becomes a space;
a keyword word matches the beginning of a text word, except words of one or two letters and
words written with a trailing «!», which must match whole; a multi-word keyword is a phrase.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from routing.classification import Classification, Suggestion

if TYPE_CHECKING:
    from bot.config import OtklikConfig

FALLBACK_CATEGORY = "other"
NO_MATCH_CONFIDENCE = 0.2  # "other" by default is a guess, well below the triage threshold
MAX_CONFIDENCE = 0.95  # a keyword matcher is never sure
LOCATION_RADIUS_KM = 30.0

_NON_WORD = re.compile(r"[^0-9a-zа-я]+")
_MASK = "\0"  # stands in for words already used as a place name; matches no keyword


def words_of(text: str) -> list[str]:
    return _NON_WORD.sub(" ", text.lower().replace("ё", "е")).split()


@dataclass(frozen=True)
class _Phrase:
    owner: str  # the category or municipality code
    words: tuple[tuple[str, bool], ...]  # (word, must match whole)
    letters: int

    def matches_at(self, tokens: Sequence[str], start: int) -> bool:
        if start + len(self.words) > len(tokens):
            return False
        for offset, (word, whole) in enumerate(self.words):  # no slice of the tokens: called a lot
            token = tokens[start + offset]
            hit = token == word if whole else token.startswith(word)
            if not hit:
                return False
        return True


def compile_phrase(owner: str, keyword: str) -> _Phrase | None:
    words: list[tuple[str, bool]] = []
    for part in keyword.split():
        marked = part.endswith("!")
        # "р-н" becomes two words, "р" and "н", just as it does in the text.
        words += [(w, marked or len(w) <= 2) for w in words_of(part.rstrip("!"))]
    if not words:
        return None
    return _Phrase(owner, tuple(words), sum(len(w) for w, _ in words))


@dataclass(frozen=True)
class _Hit:
    phrase: _Phrase
    start: int
    end: int  # exclusive


class _PhraseSet:
    def __init__(self, entries: Iterable[tuple[str, str]]) -> None:
        # Bucketed by first letter so a message is not checked against every phrase at every word.
        self._by_letter: dict[str, list[_Phrase]] = {}
        for owner, keyword in entries:
            phrase = compile_phrase(owner, keyword)
            if phrase is not None:
                self._by_letter.setdefault(phrase.words[0][0][0], []).append(phrase)

    def find(self, tokens: Sequence[str]) -> list[_Hit]:
        hits = []
        for i, token in enumerate(tokens):
            for phrase in self._by_letter.get(token[:1], ()):
                if phrase.matches_at(tokens, i):
                    hits.append(_Hit(phrase, i, i + len(phrase.words)))
        return hits


class KeywordIndex:
    """Compiled phrases looked up by the text's words: each distinct word is matched against the
    phrases' first words once (then remembered, bounded), so a message tries `matches_at` only for
    the phrases whose first word it has. `find` gives the same hits as trying every phrase everywhere."""

    def __init__(self, phrases: Iterable[_Phrase], cache_size: int = 100_000) -> None:
        self._phrases = list(phrases)
        self._whole: dict[str, list[int]] = {}  # first word that must match whole -> phrase numbers
        self._prefix: dict[str, list[int]] = {}  # first word that begins a text word -> phrase numbers
        for number, phrase in enumerate(self._phrases):
            word, whole = phrase.words[0]
            (self._whole if whole else self._prefix).setdefault(word, []).append(number)
        self._prefix_lengths = sorted({len(word) for word in self._prefix})
        self._cache: dict[str, tuple[_Phrase, ...]] = {}
        self._cache_size = cache_size

    def __bool__(self) -> bool:
        return bool(self._phrases)

    def _starting_with(self, token: str) -> tuple[_Phrase, ...]:
        """The phrases whose first word matches this text word, in the order they were given."""
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        numbers = list(self._whole.get(token, ()))
        for length in self._prefix_lengths:
            if length > len(token):
                break
            numbers += self._prefix.get(token[:length], ())
        found = tuple(self._phrases[n] for n in sorted(numbers))
        if len(self._cache) < self._cache_size:
            self._cache[token] = found
        return found

    def find(self, tokens: Sequence[str]) -> list[tuple[_Phrase, int, int]]:
        """(phrase, start, end) for every phrase matching at every word, as `_Phrase.matches_at` says."""
        hits = []
        starting_with = self._starting_with
        for i, token in enumerate(tokens):
            for phrase in starting_with(token):
                size = len(phrase.words)
                if size == 1 or phrase.matches_at(tokens, i):  # a one-word phrase: its first word matched
                    hits.append((phrase, i, i + size))
        return hits


def longest_first(hits: list[_Hit]) -> list[_Hit]:
    """Non-overlapping hits, longer phrases taking precedence: «рыбинский район» over «рыбинск»."""
    chosen: list[_Hit] = []
    taken: set[int] = set()
    for hit in sorted(hits, key=lambda h: (h.end - h.start, h.phrase.letters), reverse=True):
        span = range(hit.start, hit.end)
        if taken.isdisjoint(span):
            chosen.append(hit)
            taken.update(span)
    return sorted(chosen, key=lambda h: h.start)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def location_confidence(km: float) -> float:
    # In town (5 km) it is almost surely that municipality; at the radius's edge barely a hint.
    if km <= 5:
        return 0.9
    return round(max(0.3, 0.9 - 0.6 * (km - 5) / (LOCATION_RADIUS_KM - 5)), 3)


def category_confidence(score: int, runner_up: int) -> float:
    """Grows with the winner's hits, shrinks with the runner-up's; a tie never passes 0.25."""
    strength = 1 - 0.5**score
    lead = (score - runner_up + 1) / (score + 1)
    return round(min(MAX_CONFIDENCE, strength * lead), 3)


class KeywordClassifier:
    def __init__(self, config: OtklikConfig) -> None:
        self._category_order = {c.code: i for i, c in enumerate(config.categories)}
        self._categories = _PhraseSet((c.code, k) for c in config.categories for k in c.keywords)
        self._places = _PhraseSet((m.code, a) for m in config.municipalities for a in m.aliases)
        self._centres = [(m.code, m.centre) for m in config.municipalities if m.centre is not None]

    def classify(
        self,
        text: str,
        *,
        location: tuple[float, float] | None = None,
        known_municipality: str | None = None,
    ) -> Classification:
        tokens = words_of(text)
        place_hits = longest_first(self._places.find(tokens))
        # A place name is not a topic: «Гаврилов-Ям» must not count as a pothole («яма»).
        masked = list(tokens)
        for hit in place_hits:
            masked[hit.start : hit.end] = [_MASK] * (hit.end - hit.start)

        category, cat_conf, cat_suggestions = self._category(masked)
        if known_municipality is not None:
            municipality, mun_conf = known_municipality, 1.0
            mun_suggestions: tuple[Suggestion, ...] = (Suggestion(known_municipality, 1.0),)
        else:
            municipality, mun_conf, mun_suggestions = self._municipality(place_hits, location)
        return Classification(
            category=category,
            category_confidence=cat_conf,
            municipality=municipality,
            municipality_confidence=mun_conf,
            category_suggestions=cat_suggestions,
            municipality_suggestions=mun_suggestions,
        )

    def _category(self, tokens: Sequence[str]) -> tuple[str, float, tuple[Suggestion, ...]]:
        covered: dict[str, set[int]] = {}
        for hit in self._categories.find(tokens):
            covered.setdefault(hit.phrase.owner, set()).update(range(hit.start, hit.end))
        # Score = words covered, so «маршрутка» hit by «маршрут» and «маршрутк» counts once.
        scores = {code: len(positions) for code, positions in covered.items()}
        # "other" is for what fits nowhere: its words («спасибо») only count when nothing else does.
        specific = {code: s for code, s in scores.items() if code != FALLBACK_CATEGORY}
        scores = specific or scores
        if not scores:
            return (
                FALLBACK_CATEGORY,
                NO_MATCH_CONFIDENCE,
                (Suggestion(FALLBACK_CATEGORY, NO_MATCH_CONFIDENCE),),
            )
        ranked = sorted(scores, key=lambda code: (-scores[code], self._category_order.get(code, 0)))
        top = ranked[0]
        runner_up = scores[ranked[1]] if len(ranked) > 1 else 0
        confidence = category_confidence(scores[top], runner_up)
        total = sum(scores.values())
        # The alternatives get their share of the hits, never more than the winner's confidence.
        suggestions = [Suggestion(top, confidence)] + [
            Suggestion(code, round(min(confidence, (1 - 0.5 ** scores[code]) * scores[code] / total), 3))
            for code in ranked[1:3]
        ]
        return top, confidence, tuple(suggestions)

    def _municipality(
        self, hits: Sequence[_Hit], location: tuple[float, float] | None
    ) -> tuple[str | None, float, tuple[Suggestion, ...]]:
        counts = Counter(hit.phrase.owner for hit in hits)  # insertion order = first mention
        if len(counts) == 1:
            ((code, n),) = counts.items()
            confidence = 0.95 if n > 1 else 0.85
            return code, confidence, (Suggestion(code, confidence),)
        if counts:
            # Several places named: the citizen or an official decides, not a guess.
            total = sum(counts.values())
            ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
            return None, 0.0, tuple(Suggestion(code, round(0.5 * n / total, 3)) for code, n in ranked)
        if location is not None:
            near = sorted((distance_km(location, centre), code) for code, centre in self._centres)
            near = [(km, code) for km, code in near if km <= LOCATION_RADIUS_KM][:3]
            if near:
                suggestions = tuple(Suggestion(code, location_confidence(km)) for km, code in near)
                return near[0][1], suggestions[0].confidence, suggestions
        return None, 0.0, ()
