"""Which municipality a message is about: from the words of the text, or from a shared location.

The gazetteer (`routing/data/<region>_places.csv`, one name per row) maps settlements, city
districts, neighbourhoods, streets and landmarks to municipality codes. Names are matched in any
grammatical case («в Гаврилов-Яме», «из Красных Ткачей»), with one typo in longer words, and
with the usual abbreviations («р-н», «пос.», «д.», «г.», «ул.», «пр-т»).

The resolver prefers saying "undecided" (`municipality=None`) to guessing: a name shared by
several towns (`ambiguous=yes`: «проспект Ленина») never decides alone, two different
municipalities named in one message decide nothing unless one clearly dominates, a place outside
the region named beside one inside («квартира в Костроме, живу в Ярославле», «автобус Ярославль -
Кострома») leaves it undecided unless the region's place clearly dominates, and words that are also
ordinary words or surnames («Любим», «Данилов», «Весна», «Волга») count only with evidence that they
are places (see `requires` below).

CSV columns: name, municipality (a code; several codes joined by «;» for ambiguous names; «-» for a
name that spans several municipalities or is the whole region, which is recognised and then ignored;
«outside» for a place outside the region, which counts against deciding for a place inside it),
kind (city, town, urban_settlement, village, okrug, city_district, neighbourhood, street, landmark,
region, adjective — «Угличский»: the town's adjective, «угличская администрация»), lat, lon (may be
empty), ambiguous (yes/empty), requires (empty; «cue» = evidence that the word is the place: a
settlement word before it («г.», «в селе»), a preposition and a capital letter («в Любиме»), an
institution word before its genitive («ЦРБ Данилова», «соцзащите Любима»), the capitalised name
standing as a clause of its own at the end or the head of the message («…, Данилов», «Любим.»,
«Некрасовское: …»), or for a neighbourhood «на» + the name even in lower case («на пятерке», not
after «ехал» or beside bus words); «type» = only a settlement word before it).
Lines starting with «#» are comments.

A name that is an adjective («Петровское», «Лесная Поляна», «Тутаевское шоссе») matches only its own
forms («в Петровском»), not another gender («на Петровской стороне» is no village Петровское).
"""
from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routing.keywords import KeywordIndex

DEFAULT_GAZETTEER = Path(__file__).parent / "data" / "yaroslavl_places.csv"
OUTSIDE = "-"  # recognised, belongs to no single municipality (the whole region, a reservoir)
OUTSIDE_REGION = "outside"  # recognised, outside the region: a rival to the region's places
_OUTSIDE_VOTE = "\x00outside"  # the pseudo-municipality such places vote for

# How much one mention of a kind of place says about the municipality.
KIND_WEIGHT: dict[str, float] = {
    "city": 1.0, "town": 1.0, "okrug": 1.0, "urban_settlement": 0.95, "village": 0.9,
    "city_district": 0.9, "neighbourhood": 0.85, "landmark": 0.8, "street": 0.8, "alias": 0.8,
    "adjective": 0.8, "region": 0.8,  # «Костромская область» (outside the region)
}
# A point of this kind covers about this many km around it when resolving a shared location.
KIND_RADIUS_KM: dict[str, float] = {
    "city": 5.0, "town": 3.5, "urban_settlement": 2.5, "village": 1.5, "city_district": 3.0,
    "neighbourhood": 2.0, "street": 1.5, "landmark": 1.0, "centre": 3.0,
}
MAX_LOCATION_KM = 40.0  # farther from every known place: probably outside the region

_WORD_RE = re.compile(r"[0-9A-Za-zА-Яа-яЁё]+")
# Spelled-out forms of abbreviations, so «р-н» and «район» are one key.
_CANONICAL: dict[str, str] = {
    "район": "район", "округ": "район", "рн": "район", "мр": "район", "мо": "район", "го": "район",
    "улица": "улица", "ул": "улица", "проспект": "проспект", "пр": "проспект", "просп": "проспект",
    "пркт": "проспект", "прт": "проспект", "шоссе": "шоссе", "ш": "шоссе", "набережная": "набережная",
    "наб": "набережная", "площадь": "площадь", "пл": "площадь", "переулок": "переулок", "пер": "переулок",
    "бульвар": "бульвар", "бр": "бульвар", "проезд": "проезд", "область": "область", "обл": "область",
}
_STREET_TYPES = {"улица", "проспект", "шоссе", "набережная", "площадь", "переулок", "бульвар", "проезд"}
_SKIPPED = {"муниципальный", "мун"}  # «Рыбинский муниципальный район» is «Рыбинский район»
# Lemmas of settlement words written in full and declined: «в селе Великое», «в городе Любиме».
_SETTLEMENT_LEMMAS = {"город", "поселок", "деревня", "село", "микрорайон", "станция", "посёлок"}
# Institutions named with the town in the genitive: «ЦРБ Данилова», «в соцзащите Любима».
_INSTITUTION_LEMMAS = {
    "црб", "больница", "поликлиника", "администрация", "мэрия", "соцзащита", "школа", "детсад", "садик",
    "роддом", "вокзал", "автовокзал", "рынок", "жкх", "мфц", "дк", "музей", "библиотека", "почта",
    "военкомат", "центр", "окраина", "житель", "жительница", "дорога", "суд", "прокуратура", "полиция",
    "отделение", "водоканал", "котельная", "газовик", "горгаз", "управа",
}
# «ехал на пятерке», «сел на весну»: a bus or a train, not the neighbourhood.
_MOTION_LEMMAS = {"ехать", "ездить", "поехать", "приехать", "уехать", "доехать", "заехать", "проехать",
                  "сесть", "садиться", "кататься", "добираться", "добраться", "ждать", "опоздать"}
_VEHICLE_LEMMAS = {"автобус", "маршрутка", "троллейбус", "трамвай", "маршрут", "номер", "водитель",
                   "кондуктор", "электричка", "рейс"}
# An adjective of a town before one of these is a street named after it, not the town.
_REGION_WORDS = {"область", "край", "губерния", "республика"}
_DISTRICT_HINTS = {"црб", "районный", "рб"}  # «Рыбинская ЦРБ» serves the okrug around the city
_SENTENCE_GAP = re.compile(r"[.!?\n…]")
_CLAUSE_GAP = re.compile(r"[,;:()«»\"—–]|(^|\s)-(\s|$)")
_ADJECTIVE_NAME_RE = re.compile(r"(ий|ый|ой|ое|ее|ая|яя|ые|ие)$")
# Words that say "a settlement name follows": they make a `cue`/`type` name count.
_SETTLEMENT_WORDS = {"город", "г", "гор", "поселок", "пос", "п", "пгт", "рп", "деревня", "дер", "д", "село",
                     "с", "микрорайон", "мкр", "мкрн", "станция", "ст", "завод", "нпо", "одк", "район"}
_ONE_LETTER_CUES = {"г", "п", "д", "с"}  # only with a dot: «с.» is a village, «с» is a preposition
_PLACE_PREPOSITIONS = {"в", "во", "на", "из", "до", "под", "около", "возле", "у", "за", "от", "к", "по"}
_ENDPOINT_PREPOSITIONS = {"до", "из", "от", "через"}  # «автобус до Рыбинска»: a route, not the place
_NEAR_PREPOSITIONS = {"под", "около", "возле", "близ"}  # «под Ярославлем» is the district around it
_NOUN_ENDINGS = sorted(["ами", "ями", "ах", "ях", "ом", "ем", "ой", "ей", "ою", "ею", "ам", "ям", "ов", "ев",
                        "а", "я", "о", "е", "у", "ю", "ы", "и", "ь"], key=len, reverse=True)
_ADJECTIVE_RE = re.compile(r"(ск|цк)(ий|ого|ому|им|ом|ая|ой|ую|ое|ие|их|ими|ые|ых|ыми|ый|ое)$")
_PROPER_TAGS = ("Name", "Surn", "Patr", "Geox", "Orgn", "Trad")


@dataclass(frozen=True)
class Place:
    name: str
    municipalities: tuple[str, ...]  # empty: recognised but outside every municipality
    kind: str
    lat: float | None = None
    lon: float | None = None
    ambiguous: bool = False
    requires: str = ""  # "", "cue" or "type"
    outside: bool = False  # outside the region («Кострома»): counts against the region's places

    @property
    def decides(self) -> bool:
        return not self.ambiguous and len(self.municipalities) == 1


@dataclass(frozen=True)
class PlaceMatch:
    place: Place
    start: int  # token indexes, end exclusive
    end: int
    surface: str
    weight: float
    municipality: str | None  # whom this mention votes for (None: no vote)
    char_start: int = 0  # where the name stands in the text
    char_end: int = 0
    endpoint: bool = False  # «до Ростова», «в Рыбинск»: where a route goes, not where the citizen is
    outside: bool = False  # a place outside the region


@dataclass(frozen=True)
class PlaceResolution:
    municipality: str | None
    confidence: float  # 0 when municipality is None
    suggestions: tuple[tuple[str, float], ...] = ()  # best first, for buttons
    matches: tuple[PlaceMatch, ...] = ()
    reason: str = "none"  # text | location | conflict | ambiguous | route | outside | far | none


@dataclass
class _Token:
    text: str  # as written
    folded: str  # lower case, ё -> е
    index: int
    dot_after: bool
    start: int = 0  # character offsets in the text
    end: int = 0
    keys: frozenset[str] = frozenset()


def _fold(word: str) -> str:
    return word.lower().replace("ё", "е")


def _stem(word: str) -> str | None:
    """A crude noun stem for names pymorphy does not know («Брагине» -> «брагин»); adjectives excluded."""
    if len(word) < 5 or _ADJECTIVE_RE.search(word):
        return None
    for ending in _NOUN_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return "~" + word[: -len(ending)]
    return "~" + word


@lru_cache(maxsize=50_000)
def _word_keys(folded: str) -> frozenset[str]:
    """Every form a word may stand for: itself, its canonical abbreviation, its lemmas, its stem."""
    from routing.topics import morph_analyzer

    canonical = _CANONICAL.get(folded)
    if canonical:
        return frozenset({canonical})
    keys = {folded}
    if re.search(r"[а-я]", folded) and len(folded) > 2:
        for parse in morph_analyzer().parse(folded):
            normal = _fold(parse.normal_form)
            keys.add(_CANONICAL.get(normal, normal))
    stem = _stem(folded)
    if stem and _may_be_typo(folded):
        # Only names pymorphy does not know as ordinary words: «роста» must not become «Ростов».
        keys.add(stem)
    return frozenset(keys)


@lru_cache(maxsize=10_000)
def _name_keys(folded: str) -> frozenset[str]:
    """Keys of a gazetteer word: like `_word_keys`, but a proper-noun reading wins over homonyms.

    «Ростов» is also the genitive plural of «рост»; taking every lemma would make «рост цен» a town.
    """
    from routing.topics import morph_analyzer

    canonical = _CANONICAL.get(folded)
    if canonical:
        return frozenset({canonical})
    keys = {folded}
    if re.search(r"[а-я]", folded) and len(folded) > 2:
        parses = morph_analyzer().parse(folded)
        proper = [p for p in parses if any(tag in p.tag for tag in _PROPER_TAGS)]
        keys.update(_CANONICAL.get(_fold(p.normal_form), _fold(p.normal_form)) for p in (proper or parses))
    stem = _stem(folded)
    if stem and _may_be_typo(folded):
        keys.add(stem)
    return frozenset(keys)


@lru_cache(maxsize=50_000)
def _may_be_typo(folded: str) -> bool:
    """Unknown words and proper names may be misspelt place names; ordinary words are left alone."""
    from routing.topics import morph_analyzer

    morph = morph_analyzer()
    if not morph.word_is_known(folded):
        return True
    return all(any(tag in parse.tag for tag in _PROPER_TAGS) for parse in morph.parse(folded))


def _within_one_edit(a: str, b: str) -> bool:
    """Levenshtein distance <= 1, or one swap of neighbouring letters."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


def tokenize(text: str) -> list[_Token]:
    tokens = []
    for i, m in enumerate(_WORD_RE.finditer(text)):
        tokens.append(_Token(m.group(), _fold(m.group()), i, text[m.end():m.end() + 1] == ".", m.start(), m.end()))
    return _merge_abbreviations(tokens)


_ABBREVIATION_HEADS = frozenset({"р", "пр", "б"})


def _merge_abbreviations(tokens: list[_Token]) -> list[_Token]:
    """«р-н», «пр-т», «б-р» are split by the word pattern; glue them back into one token."""
    if not any(tok.folded in _ABBREVIATION_HEADS for tok in tokens):
        return tokens  # nothing to glue (most messages): the tokens and their indexes stand
    out: list[_Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if i + 1 < len(tokens) and (tok.folded, tokens[i + 1].folded) in {("р", "н"), ("р", "на"), ("р", "не"),
                                                                         ("пр", "т"), ("пр", "кт"), ("б", "р")}:
            nxt = tokens[i + 1]
            glued = "рн" if tok.folded == "р" and nxt.folded.startswith("н") else tok.folded + nxt.folded
            out.append(_Token(tok.text + "-" + nxt.text, glued, len(out), nxt.dot_after, tok.start, nxt.end))
            i += 2
            continue
        out.append(_Token(tok.text, tok.folded, len(out), tok.dot_after, tok.start, tok.end))
        i += 1
    return out


KEY_CACHE_WORDS = 100_000  # words whose gazetteer keys are kept (a few hundred bytes each)
NO_GAZETTEER = "none"  # classifier.gazetteer: none -> places from the config's names and aliases only


def configured_gazetteer(config: Any) -> str | Path | None:
    """The gazetteer `classifier.gazetteer` names: a path resolved against the config's folder,
    NO_GAZETTEER, or None for the shipped file."""
    value = getattr(getattr(config, "classifier", None), "gazetteer", None)
    if value is None or not str(value).strip():
        return None
    if str(value).strip().lower() == NO_GAZETTEER:
        return NO_GAZETTEER
    resolve = getattr(config, "resolve_path", None)
    return resolve(value) if resolve is not None else Path(value)


def load_gazetteer(path: str | Path | None = None) -> list[Place]:
    """Read a gazetteer CSV; a clear ValueError names the line of a malformed row."""
    source = Path(path) if path is not None else DEFAULT_GAZETTEER
    places: list[Place] = []
    with source.open(encoding="utf-8", newline="") as fh:
        lines = [line for line in fh if not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    missing = {"name", "municipality", "kind"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"{source}: missing column(s) {', '.join(sorted(missing))}")
    for number, row in enumerate(reader, start=2):
        name = (row.get("name") or "").strip()
        if not name:
            continue
        raw = (row.get("municipality") or "").strip()
        outside = raw.lower() == OUTSIDE_REGION
        codes = () if raw == OUTSIDE or outside else tuple(c.strip() for c in raw.split(";") if c.strip())
        try:
            lat = float(row["lat"]) if (row.get("lat") or "").strip() else None
            lon = float(row["lon"]) if (row.get("lon") or "").strip() else None
        except ValueError:
            raise ValueError(f"{source}, data row {number}: lat/lon must be numbers") from None
        ambiguous = (row.get("ambiguous") or "").strip().lower() in {"yes", "1", "true", "да"}
        requires = (row.get("requires") or "").strip().lower()
        if requires not in {"", "cue", "type"}:
            raise ValueError(f"{source}, data row {number}: requires must be empty, cue or type")
        kind = (row.get("kind") or "village").strip()
        places.append(Place(name, codes, kind, lat, lon, ambiguous or len(codes) > 1 or
                            (not codes and raw != OUTSIDE and not outside), requires, outside))
    return places


@dataclass(frozen=True)
class _Pattern:
    place: Place
    core: tuple[frozenset[str], ...]  # key sets of the words to find in a row
    street_type: str | None  # «улица» etc.: must stand right before or right after the core
    letters: int
    # Per core word: the only spellings an adjective-shaped name word may take (its own gender and
    # number: «Петровское» -> петровского, петровском…), or None for any form of the lemma.
    forms: tuple[frozenset[str] | None, ...] = ()


@lru_cache(maxsize=10_000)
def _agreeing_forms(folded: str) -> frozenset[str] | None:
    """The forms of an adjective-shaped name word in its own gender and number, or None.

    «Петровское» is «в Петровском», «из Петровского», never «на Петровской стороне»; «Лесная Поляна»
    is «в Лесной Поляне», never «лесные поляны».
    """
    from routing.topics import morph_analyzer

    if not _ADJECTIVE_NAME_RE.search(folded):
        return None
    for parse in morph_analyzer().parse(folded):
        if "ADJF" not in parse.tag or "nomn" not in parse.tag:
            continue
        number = "plur" if "plur" in parse.tag else "sing"
        gender = next((g for g in ("masc", "femn", "neut") if g in parse.tag), None)
        forms = {_fold(f.word) for f in parse.lexeme
                 if number in f.tag and (number == "plur" or gender in f.tag)
                 and "Supr" not in f.tag and "COMP" not in f.tag and "ADJS" not in f.tag}
        if folded in forms:
            return frozenset(forms)
    return None


def _pattern(place: Place) -> _Pattern | None:
    words = [t.folded for t in tokenize(place.name)]
    kept_words = [w for w in words if w not in _SKIPPED]
    keyed = [_name_keys(w) for w in kept_words]
    if not keyed:
        return None
    # A town's adjective («Угличский») stands in any gender: «угличская», «угличские».
    forms = [None if place.kind == "adjective" else _agreeing_forms(w) for w in kept_words]
    street_type = None
    if place.kind == "street" and len(keyed) > 1:
        for pos in (0, len(keyed) - 1):
            types = keyed[pos] & _STREET_TYPES
            if types:
                street_type = next(iter(types))
                keyed = keyed[:pos] + keyed[pos + 1:]
                forms = forms[:pos] + forms[pos + 1:]
                break
    # A name word is matched by its lemma/stem and its own spelling, not by every lemma of a homonym.
    return _Pattern(place, tuple(keyed), street_type, sum(len(w) for w in words), tuple(forms))


class PlaceResolver:
    """Gazetteer + optional config aliases -> municipality of a text or of a location."""

    def __init__(self, places: Iterable[Place], *, known_codes: Iterable[str] | None = None,
                 surrounding: Mapping[str, str] | None = None,
                 aliases: Iterable[tuple[str, str]] = (),
                 centres: Iterable[tuple[str, tuple[float, float]]] = ()) -> None:
        codes = set(known_codes) if known_codes is not None else None
        kept: list[Place] = []
        for place in places:
            municipalities = tuple(c for c in place.municipalities if codes is None or c in codes)
            if place.municipalities and not municipalities:
                continue  # a code this region's config does not have
            kept.append(Place(place.name, municipalities, place.kind, place.lat, place.lon,
                              place.ambiguous or len(municipalities) > 1, place.requires, place.outside))
        self.places = kept
        self.surrounding = dict(surrounding or {})
        self._patterns = [p for p in (_pattern(place) for place in kept) if p is not None]
        self._by_first: dict[str, list[_Pattern]] = defaultdict(list)
        for pat in self._patterns:
            for key in pat.core[0]:
                self._by_first[key].append(pat)
        self._vocabulary = {key for pat in self._patterns for keys in pat.core for key in keys}
        self._fuzzy = self._fuzzy_index()
        self._key_cache: dict[str, frozenset[str]] = {}  # folded word -> _keys (bounded: KEY_CACHE_WORDS)
        self._aliases = self._compile_aliases(aliases)
        self._points = [(p.municipalities[0], p.lat, p.lon, KIND_RADIUS_KM.get(p.kind, 1.5))
                        for p in kept if p.decides and p.lat is not None and p.lon is not None]
        self._points += [(code, lat, lon, KIND_RADIUS_KM["centre"]) for code, (lat, lon) in centres
                         if codes is None or code in codes]

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def default(cls) -> PlaceResolver:
        """The shipped Ярославская область gazetteer, without a config."""
        return cls(load_gazetteer(), surrounding={"yaroslavl": "yaroslavsky", "rybinsk": "rybinsky"})

    @classmethod
    def from_config(cls, config: Any, gazetteer: str | Path | None = None) -> PlaceResolver:
        """Gazetteer entries for the config's municipality codes, plus its names, aliases and centres."""
        municipalities = list(getattr(config, "municipalities", []) or [])
        codes = [m.code for m in municipalities]
        if gazetteer is None:
            gazetteer = configured_gazetteer(config)
        places = [] if gazetteer == NO_GAZETTEER else load_gazetteer(gazetteer)
        # The gazetteer's own entry wins over a config name: it knows «Любим» needs a cue.
        known = {_fold(p.name) for p in places}
        for m in municipalities:
            for name in {m.name, getattr(m, "short_name", None)} - {None, ""}:
                if _fold(str(name)) not in known:
                    places.append(Place(str(name), (m.code,), "okrug"))
        aliases = [(m.code, a) for m in municipalities for a in (getattr(m, "aliases", None) or [])]
        centres = [(m.code, tuple(m.centre)) for m in municipalities if getattr(m, "centre", None)]
        resolver = cls(places, known_codes=codes, aliases=aliases, centres=centres)  # type: ignore[arg-type]
        resolver.surrounding = resolver._surrounding_from(municipalities)
        return resolver

    def _surrounding_from(self, municipalities: Sequence[Any]) -> dict[str, str]:
        """An okrug with no centre inside it (centre null) and named after a city surrounds that city.

        «Рыбинский муниципальный округ» -> stem «рыбинск» -> city «Рыбинск»: a place «под Рыбинском»
        or a location just outside the city belongs to the okrug, not to the city.
        """
        out: dict[str, str] = {}
        cities = [(p.name.lower().replace("ё", "е"), p.municipalities[0]) for p in self.places
                  if p.kind == "city" and p.decides]
        for m in municipalities:
            if getattr(m, "centre", None) is not None or not getattr(m, "name", ""):
                continue
            first = _fold(str(m.name).split()[0])
            stem = re.sub(r"(ский|цкий|ской|ская|ское)$", "", first)
            if len(stem) < 4 or stem == first:
                continue
            for city_name, city_code in cities:
                if city_code != m.code and city_name.startswith(stem):
                    out[city_code] = m.code
        return out

    def _fuzzy_index(self) -> dict[str, set[str]]:
        """Single-deletion index of name word forms, for one-typo matches of longer words."""
        from routing.topics import morph_analyzer

        index: dict[str, set[str]] = defaultdict(set)
        for pat in self._patterns:
            for keys in pat.core:
                plain = {k for k in keys if not k.startswith("~") and len(k) >= 5}
                forms = set(plain)
                for k in plain:
                    for parse in morph_analyzer().parse(k)[:1]:
                        forms.update(_fold(f.word) for f in parse.lexeme)
                for form in forms:
                    if len(form) < 5:
                        continue
                    anchor = sorted(plain)[0] if plain else form
                    for variant in {form} | {form[:i] + form[i + 1:] for i in range(len(form))}:
                        index[variant].add(f"{form}\t{anchor}")
        return index

    @staticmethod
    def _compile_aliases(aliases: Iterable[tuple[str, str]]) -> KeywordIndex:
        from routing.keywords import KeywordIndex, compile_phrase

        return KeywordIndex(p for p in (compile_phrase(code, alias) for code, alias in aliases) if p is not None)

    # ---- text -----------------------------------------------------------------------------
    def _keys(self, tok: _Token) -> frozenset[str]:
        """A word's lemma keys, plus the gazetteer words it is one typo away from; cached per word."""
        cached = self._key_cache.get(tok.folded)
        if cached is None:
            cached = frozenset(self._word_keys_with_typos(tok.folded))
            if len(self._key_cache) < KEY_CACHE_WORDS:
                self._key_cache[tok.folded] = cached
        return cached

    def _word_keys_with_typos(self, word: str) -> set[str]:
        keys = set(_word_keys(word))
        if keys & self._vocabulary or len(word) < 6 or not _may_be_typo(word):
            return keys
        candidates: set[str] = set()
        for variant in {word} | {word[:i] + word[i + 1:] for i in range(len(word))}:
            candidates |= self._fuzzy.get(variant, set())
        for entry in candidates:
            form, anchor = entry.split("\t")
            if _within_one_edit(word, form):
                keys |= _word_keys(anchor)
        return keys

    def find(self, text: str) -> list[PlaceMatch]:
        """Every place named in the text, longest names first, without overlaps."""
        tokens = tokenize(text)
        for tok in tokens:
            tok.keys = self._keys(tok)
        shouting = sum(map(str.isupper, text)) > 0.6 * max(1, sum(map(str.isalpha, text)))
        found: list[tuple[_Pattern, int, int]] = []
        for i, tok in enumerate(tokens):
            seen: set[int] = set()
            for key in tok.keys:
                for pat in self._by_first.get(key, ()):
                    if id(pat) in seen:
                        continue
                    seen.add(id(pat))
                    span = self._match_at(pat, tokens, i)
                    if span is not None:
                        found.append((pat, *span))
        # A name without the evidence it needs is no place; its words stay blocked, so that no alias
        # claims them either («мы любим»: not Любим).
        blocked: set[int] = set()
        evidenced: list[tuple[_Pattern, int, int]] = []
        for pat, start, end in found:
            core_start = start + (1 if pat.street_type and tokens[start].keys & {pat.street_type} else 0)
            if self._evidence_ok(pat.place, tokens, core_start, end, text, shouting):
                evidenced.append((pat, start, end))
            else:
                blocked.update(range(start, end))
        chosen: list[tuple[_Pattern, int, int]] = []
        taken: set[int] = set()
        # Longest first; on a tie the place that decides less («в Михайловском»: the ambiguous
        # Михайловское over the village Михайловский), then by name for a stable answer.
        for pat, start, end in sorted(evidenced, key=lambda f: (-(f[2] - f[1]), -f[0].letters,
                                                                f[0].place.decides, f[0].place.name)):
            if taken.isdisjoint(range(start, end)):
                chosen.append((pat, start, end))
                taken.update(range(start, end))
        blocked -= taken
        matches: list[PlaceMatch] = []
        for pat, start, end in sorted(chosen, key=lambda c: c[1]):
            matches.append(self._vote(pat.place, tokens, start, end, pat.place.kind))
        matches += self._alias_matches(tokens, taken, blocked)
        return _mark_routes(sorted(matches, key=lambda m: m.start), tokens, text)

    def _match_at(self, pat: _Pattern, tokens: Sequence[_Token], i: int) -> tuple[int, int] | None:
        n = len(pat.core)
        j, k = i, 0
        while k < n and j < len(tokens):
            if j > i and (tokens[j].folded in _SKIPPED or "муниципальный" in tokens[j].keys):
                j += 1  # «Рыбинском муниципальном районе»
                continue
            if not (tokens[j].keys & pat.core[k]):
                return None
            forms = pat.forms[k] if k < len(pat.forms) else None
            if forms is not None and tokens[j].folded not in forms and not _may_be_typo(tokens[j].folded):
                return None  # «Петровской» is not a form of «Петровское»
            j += 1
            k += 1
        if k < n:
            return None
        if pat.street_type is None:
            return i, j
        if i > 0 and pat.street_type in tokens[i - 1].keys:
            return i - 1, j
        if j < len(tokens) and pat.street_type in tokens[j].keys:
            return i, j + 1
        return None

    @staticmethod
    def _evidence_ok(place: Place, tokens: Sequence[_Token], start: int, end: int, text: str,
                     shouting: bool) -> bool:
        """Whether a name that is also an ordinary word or a surname is the place here (see `requires`)."""
        requires = place.requires
        if not requires:
            return True
        prev = tokens[start - 1] if start > 0 else None
        if prev is not None and prev.folded in _SETTLEMENT_WORDS:
            if prev.folded not in _ONE_LETTER_CUES or prev.dot_after:
                return True
        if prev is not None and len(prev.folded) > 2 and prev.keys & _SETTLEMENT_LEMMAS:
            return True  # «в селе Великое», «в городе Любиме»
        if requires == "type":
            return False
        word = tokens[start].text
        capital = word[:1].isupper() and (shouting or not word.isupper() or len(word) == 1)
        if prev is not None and prev.folded in _PLACE_PREPOSITIONS:
            if capital:
                return True
            # «на пятерке», «на брагино»: a neighbourhood in lower case, but not «ехал на пятерке».
            return (prev.folded == "на" and place.kind == "neighbourhood" and not place.outside
                    and not _vehicle_context(tokens, start))
        if place.outside:
            return False  # «Владимир» at the end of a message is a signature, not the city
        if capital and prev is not None and prev.keys & _INSTITUTION_LEMMAS and _is_genitive(tokens[start].folded, place):
            return True  # «ЦРБ Данилова», «в соцзащите Любима»
        return capital and _stands_alone(tokens, start, end, text)

    def _vote(self, place: Place, tokens: Sequence[_Token], start: int, end: int, kind: str) -> PlaceMatch:
        weight = KIND_WEIGHT.get(kind, 0.8)
        municipality = place.municipalities[0] if place.decides else None
        outside = place.outside
        prev = tokens[start - 1].folded if start > 0 else ""
        before = tokens[start - 2].folded if start > 1 else ""
        following = tokens[end].keys if end < len(tokens) else set()
        preceding = tokens[start - 1].keys if start > 0 else set()
        endpoint = False
        adjective = kind == "adjective" or (kind == "alias" and bool(_ADJECTIVE_RE.search(tokens[end - 1].folded)))
        if adjective and municipality is not None:
            if (following | preceding) & (_STREET_TYPES | {"ул"}):
                municipality = None  # «Угличская улица», «ул. Пошехонская»: a street named after the town
            elif following & _REGION_WORDS:
                municipality, outside = None, True  # «Ростовская область» is another region
            elif following & _DISTRICT_HINTS:
                municipality = self.surrounding.get(municipality, municipality)  # «Рыбинская ЦРБ»
        if outside and prev == "с" and before.startswith(("границ", "гранич")):
            weight *= 0.5  # «у границы с Вологодской областью»: a border, not where the problem is
        elif municipality is not None or outside:
            if prev in _NEAR_PREPOSITIONS or (before, prev) in {("рядом", "с"), ("недалеко", "от")}:
                # «под Ярославлем» is the okrug around the city, not the city.
                if municipality is not None:
                    municipality = self.surrounding.get(municipality, municipality)
                weight *= 0.8
            elif prev in _ENDPOINT_PREPOSITIONS or (
                prev in {"в", "во", "на"} and kind in {"city", "town"} and end - start == 1
                and _is_direction(tokens[start].folded, place)
            ):
                # «в Рыбинск», «в Кострому» (not «в Рыбинске») is a direction, not where the citizen is.
                endpoint = True
                weight *= 0.5
        surface = " ".join(t.text for t in tokens[start:end])
        return PlaceMatch(place, start, end, surface, weight, municipality, tokens[start].start,
                          tokens[end - 1].end, endpoint, outside)

    def _alias_matches(self, tokens: Sequence[_Token], taken: set[int], blocked: set[int]) -> list[PlaceMatch]:
        if not self._aliases:
            return []
        words = [t.folded for t in tokens]
        hits = [(phrase, start, end) for phrase, start, end in self._aliases.find(words)
                if taken.isdisjoint(range(start, end)) and blocked.isdisjoint(range(start, end))]
        out: list[PlaceMatch] = []
        used: set[int] = set()
        for phrase, start, end in sorted(hits, key=lambda h: (h[2] - h[1], h[0].letters), reverse=True):
            if used.isdisjoint(range(start, end)):
                used.update(range(start, end))
                place = Place(" ".join(w for w, _ in phrase.words), (phrase.owner,), "alias")
                out.append(self._vote(place, tokens, start, end, "alias"))
        return out

    def resolve_text(self, text: str) -> PlaceResolution:
        matches = tuple(self.find(text))
        scores: dict[str, float] = defaultdict(float)
        best_weight: dict[str, float] = defaultdict(float)
        for m in matches:
            code = m.municipality if m.municipality is not None else (_OUTSIDE_VOTE if m.outside else None)
            if code is not None:
                scores[code] += m.weight
                best_weight[code] = max(best_weight[code], m.weight)
        candidates = [c for m in matches if m.municipality is None for c in m.place.municipalities]
        inside = {code: score for code, score in scores.items() if code != _OUTSIDE_VOTE}
        if not inside:
            if _OUTSIDE_VOTE in scores:
                # Only places outside the region: not ours to route («В Москве ямы»), ask; or only
                # where a route out of the region goes («автобус до Костромы отменили»).
                route = all(m.endpoint for m in matches if m.outside)
                return PlaceResolution(None, 0.0, (), matches, "route" if route else "outside")
            if any(m.place.ambiguous for m in matches):
                share = round(0.5 / max(1, len(set(candidates))), 3)
                return PlaceResolution(None, 0.0, tuple((c, share) for c in dict.fromkeys(candidates)),
                                       matches, "ambiguous")
            return PlaceResolution(None, 0.0, (), matches, "none")
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        ranked_inside = [(code, score) for code, score in ranked if code != _OUTSIDE_VOTE]
        total_inside = sum(inside.values())
        # Where the citizen is, not where a bus goes: the places named other than as a route's end.
        settled = {code for code in scores if any(m.municipality == code or (code == _OUTSIDE_VOTE and m.outside)
                                                  for m in matches if not m.endpoint)}
        if not settled:
            voting = [m for m in matches if m.municipality is not None or m.outside]
            if len(scores) == 1 and len({m.start for m in voting}) > 1:
                # Both ends of the route in one municipality («в Угличе автобусы не ходят в Улейму»,
                # «Рыбинск - Переборы»): it is that municipality's route.
                (only,) = scores
                confidence = self._confidence(matches, only) * 0.7
                return PlaceResolution(only, round(confidence, 3), ((only, round(confidence, 3)),), matches, "text")
            # Only where a bus or a road goes: the citizen may live at either end, and the route
            # runs between municipalities or out of the region.
            suggestions = tuple((code, round(0.5 * sc / total_inside, 3)) for code, sc in ranked_inside[:3])
            return PlaceResolution(None, 0.0, suggestions, matches, "route")
        if len(settled) == 1 and len(ranked) > 1:
            (only,) = settled
            if only != _OUTSIDE_VOTE:
                # «Переславская ЦРБ: нет хирурга, отправляют в Ярославль», «живу в Семибратово,
                # автобус до Ярославля отменили»: the other places are only where someone is sent.
                confidence = self._confidence(matches, only) * 0.7
                suggestions = tuple((code, round(0.6 * sc / total_inside, 3)) for code, sc in ranked_inside[:3])
                return PlaceResolution(only, round(confidence, 3), suggestions, matches, "text")
        top, top_score = ranked[0]
        if top == _OUTSIDE_VOTE:
            # «квартира в Костроме, сам живу в Ярославле»: the problem is probably outside the region.
            suggestions = tuple((code, round(0.4 * sc / total_inside, 3)) for code, sc in ranked_inside[:3])
            return PlaceResolution(None, 0.0, suggestions, matches, "outside")
        if all(m.endpoint for m in matches if m.municipality == top):
            # The likeliest place is only a route's end, the other a place of its own: undecided.
            suggestions = tuple((code, round(0.5 * sc / total_inside, 3)) for code, sc in ranked_inside[:3])
            return PlaceResolution(None, 0.0, suggestions, matches, "conflict")
        confidence = self._confidence(matches, top)
        if len(ranked) > 1:
            second = ranked[1][1]
            suggestions = tuple((code, round(0.6 * sc / total_inside, 3)) for code, sc in ranked_inside[:3])
            # Two places named (or one outside the region beside it): decide only when one clearly
            # dominates, and say we are less sure.
            if top_score >= 2 * second and best_weight[top] >= 0.9:
                return PlaceResolution(top, round(confidence * 0.7, 3), suggestions, matches, "text")
            reason = "outside" if _OUTSIDE_VOTE in scores and len(inside) == 1 else "conflict"
            return PlaceResolution(None, 0.0, suggestions, matches, reason)
        return PlaceResolution(top, round(confidence, 3), ((top, round(confidence, 3)),), matches, "text")

    @staticmethod
    def _confidence(matches: Sequence[PlaceMatch], code: str) -> float:
        """Each mention of the place adds evidence: 1 - prod(1 - 0.9 * weight), at most 0.97."""
        doubt = 1.0
        for m in matches:
            if m.municipality == code:
                doubt *= 1 - 0.9 * m.weight
        return min(0.97, 1 - doubt)

    # ---- location -------------------------------------------------------------------------
    def resolve_location(self, lat: float, lon: float) -> PlaceResolution:
        """Nearest known place; outside every place's radius near a city -> the okrug around it."""
        if not self._points:
            return PlaceResolution(None, 0.0, reason="none")
        near = sorted((_distance_km(lat, lon, plat, plon), code, radius) for code, plat, plon, radius in self._points)
        inside = [(km / radius, code) for km, code, radius in near if km <= radius]
        if inside:
            inside.sort()
            best, code = inside[0]
            rivals = [score for score, other in inside if other != code]
            if rivals and rivals[0] < 2 * max(best, 0.05):
                suggestions = ((code, 0.5), (next(o for s, o in inside if o != code), 0.4))
                return PlaceResolution(None, 0.0, suggestions, reason="conflict")
            return PlaceResolution(code, 0.9, ((code, 0.9),), reason="location")
        km, code, _ = near[0]
        if km > MAX_LOCATION_KM:
            return PlaceResolution(None, 0.0, reason="far")
        code = self.surrounding.get(code, code)
        other = next(((d, c) for d, c, _ in near if self.surrounding.get(c, c) != code), None)
        if other is not None and other[0] < 1.3 * km + 1.0:
            suggestions = ((code, 0.4), (self.surrounding.get(other[1], other[1]), 0.35))
            return PlaceResolution(None, 0.0, suggestions, reason="conflict")
        confidence = 0.75 if km <= 15 else 0.6
        return PlaceResolution(code, confidence, ((code, confidence),), reason="location")

    def resolve(self, text: str, location: tuple[float, float] | None = None) -> PlaceResolution:
        """The text first (what the citizen says beats where the phone is), then the location."""
        by_text = self.resolve_text(text)
        if by_text.municipality is not None or location is None or by_text.reason == "outside":
            return by_text  # a place outside the region in the text: the phone's location does not say
        by_location = self.resolve_location(*location)
        if by_location.municipality is None:
            return by_text if by_text.suggestions else by_location
        if by_text.reason == "conflict" or by_text.reason == "ambiguous":
            named = {code for code, _ in by_text.suggestions}
            if by_location.municipality in named:
                # The location breaks the tie between places the text names.
                return PlaceResolution(by_location.municipality, 0.8, by_location.suggestions,
                                       by_text.matches, "location")
        return by_location


_ROUTE_DASH = re.compile(r"^\s*(-|—|–|->|→|>)\s*$")


def _mark_routes(matches: list[PlaceMatch], tokens: Sequence[_Token], text: str) -> list[PlaceMatch]:
    """«Ярославль - Кострома», «Рыбинск—Пошехонье», «между Мышкиным и Угличем»: both ends of a route."""
    ends: set[int] = set()
    for i, (a, b) in enumerate(zip(matches, matches[1:], strict=False)):
        if (a.municipality is None and not a.outside) or (b.municipality is None and not b.outside):
            continue
        gap = text[a.char_end:b.char_start]
        between = a.start > 0 and tokens[a.start - 1].folded == "между" and gap.strip().lower() == "и"
        if _ROUTE_DASH.match(gap) or between:
            ends.update((i, i + 1))
    if not ends:
        return matches
    return [replace(m, endpoint=True, weight=m.weight * 0.5) if i in ends and not m.endpoint else m
            for i, m in enumerate(matches)]


def _is_direction(folded: str, place: Place) -> bool:
    """«Рыбинск», «Кострому» after «в»/«на»: the accusative, which no locative form shares."""
    from routing.topics import morph_analyzer

    if folded == _fold(place.name) and place.name[-1:] not in "аеиоуыэюя":
        return True
    parses = [p for p in morph_analyzer().parse(folded) if "NOUN" in p.tag]
    return any("accs" in p.tag for p in parses) and not any("loct" in p.tag or "loc2" in p.tag for p in parses)


def _vehicle_context(tokens: Sequence[_Token], start: int) -> bool:
    """«ехал на пятерке», «автобус на пятерке»: a route number or a vehicle, not a neighbourhood."""
    if start > 1 and tokens[start - 2].keys & _MOTION_LEMMAS:
        return True
    return any(tok.keys & _VEHICLE_LEMMAS for tok in tokens)


def _is_genitive(folded: str, place: Place) -> bool:
    """«Данилова» of «Данилов», «Некрасовского» of «Некрасовское» (not the name's own nominative)."""
    from routing.topics import morph_analyzer

    if folded == _fold(place.name.split()[0]):
        return False
    return any("gent" in parse.tag for parse in morph_analyzer().parse(folded))


def _gap_kind(gap: str) -> str:
    """What stands between two words: "sentence" (. ! ? a new line), "clause" (, ; : — brackets) or "none"."""
    if _SENTENCE_GAP.search(gap):
        return "sentence"
    if _CLAUSE_GAP.search(gap):
        return "clause"
    return "none"


def _stands_alone(tokens: Sequence[_Token], start: int, end: int, text: str) -> bool:
    """The capitalised name is a clause of its own at the end or the head of the message.

    «…течёт крыша, Данилов», «…страшно. Любим», «Некрасовское: …», «Большое Село, дом 5 …» — but not
    «пришёл Данилов из управляющей» (inside a sentence), nor «Весна, а снег не убран» (a one-word
    start before a comma: the capital letter only begins the sentence).
    """
    before = text[tokens[start - 1].end:tokens[start].start] if start > 0 else None
    after = text[tokens[end - 1].end:tokens[end].start] if end < len(tokens) else None
    at_end = after is None
    after_kind = "end" if at_end else _gap_kind(after)
    if after_kind == "none":
        return False
    several_words = end - start > 1 and all(t.text[:1].isupper() for t in tokens[start:end])
    strong_after = at_end or after_kind == "sentence" or bool(re.search(r"[:—–]|(^|\s)-(\s|$)", after or ""))
    if before is None:  # the head of the message
        return several_words or strong_after
    before_kind = _gap_kind(before)
    if before_kind == "none":
        return False
    if before_kind == "sentence":  # a sentence of its own, or its head: «… страшно. Любим»
        return at_end or several_words or strong_after
    return True  # after a comma or a dash, a capital letter is no sentence start: «…, Данилов»


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
