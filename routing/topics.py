"""Topic model for short Russian citizen messages: text -> label with a calibrated probability.

Features are TF-IDF character n-grams of the normalised text (robust to typos and missing
spaces), TF-IDF lemma n-grams (pymorphy3 folds «батареи», «батарей» into «батарея»), on big
exports character n-grams of the lemmas too (`TopicModelSettings.lemma_char_ngrams`), and an
optional context value (what the bot already knows besides the text, e.g. a city district)
together with context x lemma crosses, so a word can point to different bodies in different contexts.
Labels that name their context («Администрация Фрунзенского района» with district «Фрунзенский»)
are learnt as one role across contexts, and the context picks the body. A linear SVM gives the
scores; a softmax with a temperature fitted on held-out scores turns them into probabilities
(near-duplicate texts are kept on one side of that split, so copies do not pass for skill).

Training uses scikit-learn; prediction needs only numpy and pymorphy3, and the saved model is a
pickle-free .npz file, so loading a model takes a fraction of a second and cannot run code.
Heavy imports happen on first use: importing this module costs nothing.
"""
from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pymorphy3
    from scipy.sparse import csr_matrix

MODEL_FILE = "topic_model.npz"
PARSE_CACHE_SIZE = 10_000  # recent words whose pymorphy3 parses are kept (~1.6 KB each, ≤ 16 MB)
WORD_CACHE_SIZE = 100_000  # words whose char n-gram ids a loaded model keeps (~350 bytes each, ≤ 35 MB)
META_FILE = "model.json"
FORMAT_VERSION = 2
# A model that learnt detail sub-groups (`fit(details=…)`) is written as format 3: a reader that only
# knows format 2 would answer with a sub-group's name, so it must refuse the file instead.
DETAIL_FORMAT_VERSION = 3
READABLE_FORMATS = (FORMAT_VERSION, DETAIL_FORMAT_VERSION)
DETAIL_SEPARATOR = " \u2192 "  # label → detail, in the name of a sub-group target
FOLDED, LEMMAS = "folded", "lemmas"  # the two forms of a text the feature blocks read
WORD_BLOCK = 1  # the lemma n-gram block's place in `TopicModel._blocks`: the one crossed with the context

# Latin letters that look like Cyrillic ones: people (and phone keyboards) mix them in words.
_LOOKALIKES = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у",
                             "k": "к", "m": "м", "t": "т", "h": "н", "b": "в"})
_TOKEN_RE = re.compile(r"[a-zа-я]+|\d+")
_CYRILLIC_RE = re.compile(r"[а-я]")
_LATIN_RE = re.compile(r"[a-z]")
_SPACES_RE = re.compile(r"\s+")
_URL_RE = re.compile(r"https?://\S+|www\.\S+")
# Russian abbreviations citizens write with a dot or a hyphen; spelled out so lemmas meet full words.
_ABBREVIATIONS: dict[str, str] = {
    "р-н": "район", "р-на": "района", "р-не": "районе", "мкр": "микрорайон", "мкрн": "микрорайон",
    "ул": "улица", "пр-т": "проспект", "пр-кт": "проспект", "просп": "проспект", "пер": "переулок",
    "наб": "набережная", "ш": "шоссе", "пл": "площадь", "пос": "поселок", "пгт": "поселок",
    "рп": "поселок", "жкх": "жкх", "эл-во": "электричество", "т.к": "так как", "тк": "так как",
}
_ABBREVIATION_RE = re.compile(
    r"(?<![а-я0-9-])(" + "|".join(re.escape(k) for k in sorted(_ABBREVIATIONS, key=len, reverse=True))
    + r")\.?(?![а-я0-9-])"
)


def fold_text(text: str) -> str:
    """Lower-case, ё -> е, Latin look-alikes inside Cyrillic words -> Cyrillic, URLs dropped."""
    text = _URL_RE.sub(" ", text.lower().replace("ё", "е"))
    if not _LATIN_RE.search(text):
        return " ".join(text.split())  # no Latin letter: no word to fix (most messages)
    words = []
    for word in text.split():
        # Only words that already have Cyrillic letters are fixed: «wifi» must stay Latin.
        if _CYRILLIC_RE.search(word) and _LATIN_RE.search(word):
            word = word.translate(_LOOKALIKES)
        words.append(word)
    return " ".join(words)


@lru_cache(maxsize=1)
def morph_analyzer() -> pymorphy3.MorphAnalyzer:
    """The pymorphy3 analyser, loaded once per process (it takes a few hundred milliseconds)."""
    import logging

    import pymorphy3

    # It announces its dictionary at INFO on every start; that says nothing to an operator.
    logging.getLogger("pymorphy3").setLevel(logging.WARNING)

    class RememberingMorphAnalyzer(pymorphy3.MorphAnalyzer):
        """`parse` remembers recent words: the topic model's lemmas and the place resolver both parse
        each new word of a message (a few hundred microseconds a time), now once between them."""

        def parse(self, word: str) -> list[Any]:
            cache = self._parses
            found = cache.get(word)
            if found is None:
                found = super().parse(word)
                if len(cache) >= PARSE_CACHE_SIZE:
                    cache.clear()  # bounded: start again rather than keep every word ever seen
                cache[word] = found
            return list(found)  # a list of its own for each caller, as pymorphy3 gives

    analyzer = RememberingMorphAnalyzer(lang="ru")
    analyzer._parses = {}
    return analyzer


class TextNormaliser:
    """Turns a raw message into folded text (for char n-grams) and lemmas (for word n-grams)."""

    def __init__(self, cache_size: int = 200_000) -> None:
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    def tokens(self, text: str) -> list[str]:
        return self._tokens_of_folded(fold_text(text))

    @staticmethod
    def _tokens_of_folded(folded: str) -> list[str]:
        folded = _ABBREVIATION_RE.sub(lambda m: f" {_ABBREVIATIONS[m.group(1)]} ", folded)
        # Numbers (house, flat, route numbers) matter as "a number" but not as a value.
        return ["0" if tok.isdigit() else tok for tok in _TOKEN_RE.findall(folded)]

    def lemma(self, token: str) -> str:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        if len(token) < 3 or not _CYRILLIC_RE.search(token):
            result = token
        else:
            result = morph_analyzer().parse(token)[0].normal_form.replace("ё", "е")
        if len(self._cache) < self._cache_size:
            self._cache[token] = result
        return result

    def lemmas(self, text: str) -> list[str]:
        return [self.lemma(tok) for tok in self.tokens(text)]

    def folded(self, text: str) -> str:
        return _SPACES_RE.sub(" ", fold_text(text)).strip()

    def prepare(self, text: str) -> tuple[str, list[str]]:
        """`folded(text)` and `lemmas(text)` at once, folding the text once."""
        folded = fold_text(text)
        get, lemma = self._cache.get, self.lemma
        lemmas = [get(tok) or lemma(tok) for tok in self._tokens_of_folded(folded)]
        return _SPACES_RE.sub(" ", folded).strip(), lemmas


@dataclass
class TopicModelSettings:
    """Knobs of the topic model; stored with the model so a loaded model explains itself."""

    char_analyzer: str = "char_wb"  # "char" also sees across word boundaries
    char_ngrams: tuple[int, int] = (1, 5)
    word_ngrams: tuple[int, int] = (1, 2)
    min_df: int = 2
    max_char_features: int | None = 300_000
    # Character n-grams of the lemmatised text as well, a third block: they meet a misspelt or unknown
    # word's lemma halfway. Measured: +0.2 points of category accuracy on four 80/20 splits of 30k
    # St Petersburg appeals; on the 942 seed rows no gain (Ярославская область test set 0.950 -> 0.953,
    # dev 0.976 -> 0.969) for a quarter of the speed, so only from `lemma_char_min_rows` rows on; and
    # with a context the lemma x context crosses carry that signal already (the executor model lost
    # 0.3 points), so not then unless `lemma_char_with_context`. None: never.
    lemma_char_ngrams: tuple[int, int] | None = (2, 5)
    max_lemma_char_features: int | None = 200_000
    lemma_char_min_rows: int = 5_000
    lemma_char_with_context: bool = False
    c: float = 0.3  # LinearSVC regularisation; 0.2–1 all do well on short texts
    context_weight: float = 1.0  # scale of the one-hot context block
    # Lemma n-grams crossed with the context (a copy of the word block per context), kept when seen
    # in at least this many rows of that context; 0 turns the crosses off.
    context_cross_min_df: int = 2
    calibration_share: float = 0.25  # rows held out once to fit the probability temperature
    # With details (a finer column of the export, e.g. a sub-topic): a (label, detail) pair seen in
    # at least this many rows is learnt as a group of its own; the rest stay with the plain label.
    detail_min_rows: int = 50
    class_weight: str | None = None
    # Each feature scaled, before the SVM, by (its largest |naive Bayes log-count ratio| of one class
    # against the rest) ** this power: a word that marks a class weighs more than one every class
    # uses. Measured: category from the text +0.22 points on four 80/20 splits of 30k St Petersburg
    # appeals (each split gained, 0.10-0.35); on the 942 seed rows the ratios are too noisy
    # (Ярославская область test set 0.950 -> 0.943), so only from `ratio_weight_min_rows` rows on;
    # and not beside a context unless `ratio_weight_with_context` (the executor with the district:
    # 0.7954 -> 0.7926, 0.7946 with the context columns left unscaled). None: plain TF-IDF.
    ratio_weight_power: float | None = 0.5
    ratio_weight_min_rows: int = 5_000
    ratio_weight_with_context: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Settings read back from JSON come with lists; scikit-learn insists on tuples.
        self.char_ngrams = (int(self.char_ngrams[0]), int(self.char_ngrams[1]))
        self.word_ngrams = (int(self.word_ngrams[0]), int(self.word_ngrams[1]))
        if self.lemma_char_ngrams is not None:
            self.lemma_char_ngrams = (int(self.lemma_char_ngrams[0]), int(self.lemma_char_ngrams[1]))


def class_ratio_weights(x: csr_matrix, y: np.ndarray, power: float, smoothing: float = 1.0) -> np.ndarray:
    """Per feature: max over classes of |log(share of the feature's mass in the class / share in the
    rest)|, both shares smoothed, raised to `power`. One class at a time, so memory is one row."""
    import numpy as np
    from scipy.sparse import csr_matrix

    x = csr_matrix(x)
    total = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
    best = np.zeros(x.shape[1], dtype=np.float64)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        pick = csr_matrix((np.ones(len(rows)), (np.zeros(len(rows), dtype=np.int64), rows)), shape=(1, x.shape[0]))
        inside = np.asarray((pick @ x).todense(), dtype=np.float64).ravel() + smoothing
        outside = total - inside + 2 * smoothing
        ratio = np.abs(np.log(inside / inside.sum()) - np.log(outside / outside.sum()))
        np.maximum(best, ratio, out=best)
    return (best ** power).astype(np.float32)


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    import numpy as np

    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_temperature(scores: np.ndarray, y: np.ndarray, merge: np.ndarray | None = None) -> float:
    """Temperature that minimises the log-loss of softmax(scores / T) on out-of-fold scores.

    `merge` (targets x groups, 0/1) sums the targets' probabilities into groups first, `y` then
    being group ids: with sub-group targets the loss that counts is the one of the labels.
    """
    import numpy as np

    rows = np.arange(len(y))

    def nll(t: float) -> float:
        proba = _softmax(scores, t)
        p = (proba @ merge)[rows, y] if merge is not None else proba[rows, y]
        return float(-np.log(np.clip(p, 1e-12, 1.0)).mean())

    # Golden-section search on log T: the loss is smooth and unimodal in practice.
    lo, hi = np.log(0.01), np.log(10.0)
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(float(np.exp(a))), nll(float(np.exp(b)))
    for _ in range(40):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(float(np.exp(a)))
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(float(np.exp(b)))
    return float(np.exp((lo + hi) / 2))


NEAR_DUPLICATE_LEMMAS = 8  # distinct lemmas from the start of a text that make its near-duplicate key


def near_duplicate_key(lemmas: str, size: int = NEAR_DUPLICATE_LEMMAS) -> str:
    """What near-duplicates share: the set of the first `size` distinct word lemmas of the text.

    `lemmas` is the text's lemmas joined by spaces (as `TopicModel._prepare` gives them): case, ё,
    Latin look-alikes, abbreviations and word forms are folded already. Numbers (house, flat, date)
    and one-letter tokens are dropped, the order of the words does not count, and a changed tail
    (a signature, an added sentence) past the first `size` lemmas does not either.
    """
    seen: dict[str, None] = {}
    for lemma in lemmas.split():
        if len(lemma) < 2 or lemma.isdigit():
            continue
        seen[lemma] = None
        if len(seen) >= size:
            break
    return " ".join(sorted(seen))


def near_duplicate_groups(lemmas: Sequence[str]) -> np.ndarray:
    """A group id per text: texts with the same `near_duplicate_key` share one (ids in order of appearance)."""
    import numpy as np

    ids: dict[str, int] = {}
    return np.fromiter((ids.setdefault(near_duplicate_key(text), len(ids)) for text in lemmas),
                       dtype=np.int64, count=len(lemmas))


def _grouped_split(n: int, held_out: int, groups: np.ndarray | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(held-out rows, fitted rows): about `held_out` rows, whole groups on one side (seeded, deterministic).

    Groups are taken in a seeded random order; one that would overshoot `held_out` is passed over,
    so the held-out part never holds more rows than asked and big groups do not skew its size.
    Without groups every row is its own group: the plain seeded random split.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    if groups is None:
        order = rng.permutation(n)
        return np.sort(order[:held_out]), np.sort(order[held_out:])
    _, group_of, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    take = np.zeros(len(sizes), dtype=bool)
    room = held_out
    for g in rng.permutation(len(sizes)):
        if sizes[g] <= room:
            take[g] = True
            room -= sizes[g]
            if room == 0:
                break
    held = take[group_of.ravel()]
    return np.flatnonzero(held), np.flatnonzero(~held)


def char_wb_word_ngrams(word: str, low: int, high: int) -> list[str]:
    """One word's char_wb n-grams as scikit-learn makes them: the word padded with a space on each
    side, every n from `low` to `high`, and a padded word shorter than n counted once, whole."""
    padded = f" {word} "
    out: list[str] = []
    for n in range(low, high + 1):
        if n >= len(padded):
            out.append(padded)
            break
        out += [padded[i:i + n] for i in range(len(padded) - n + 1)]
    return out


def _numbered(groups: Iterable[list[str]]) -> tuple[dict[str, int], list[int], list[int]]:
    """Number the distinct strings in order of first sight: (string -> number, the number of every
    string of every group in order, each group's length)."""
    numbers: dict[str, int] = {}
    columns: list[int] = []
    lengths: list[int] = []
    for group in groups:
        lengths.append(len(group))
        for item in group:
            number = numbers.get(item)
            if number is None:
                number = numbers[item] = len(numbers)
            columns.append(number)
    return numbers, columns, lengths


def char_wb_tfidf(docs: Sequence[str], ngram_range: tuple[int, int], min_df: int,
                  max_features: int | None) -> tuple[csr_matrix, list[str], np.ndarray]:
    """What TfidfVectorizer(analyzer="char_wb", sublinear_tf=True, dtype=float32) fits on `docs`:
    the matrix, the terms in column order and their idf. It counts a doc's n-grams as (doc x word
    counts) @ (word x n-gram counts), so each distinct word is cut into n-grams once and the counting
    runs in scipy, not in a Python loop per n-gram (that loop was most of the training time on 30k
    appeals); pruning by min_df and max_features is scikit-learn's, step for step, so the same
    terms are kept (`tests/test_topics.py` compares the two)."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfTransformer

    low, high = int(ngram_range[0]), int(ngram_range[1])
    words, word_cols, lengths = _numbered(doc.lower().split() for doc in docs)
    grams, gram_cols, gram_counts = _numbered(char_wb_word_ngrams(word, low, high) for word in words)
    if not grams:
        raise ValueError("empty vocabulary: the documents have no words")
    doc_rows = np.repeat(np.arange(len(docs)), lengths)
    by_word = csr_matrix((np.ones(len(word_cols), dtype=np.float32), (doc_rows, word_cols)),
                         shape=(len(docs), len(words)))
    word_rows = np.repeat(np.arange(len(words)), gram_counts)
    word_grams = csr_matrix((np.ones(len(gram_cols), dtype=np.float32), (word_rows, gram_cols)),
                            shape=(len(words), len(grams)))
    terms = sorted(grams)
    counts = (by_word @ word_grams)[:, np.array([grams[t] for t in terms])].tocsr()
    counts.sort_indices()
    # scikit-learn's _limit_features, on the same float32 counts in the same (sorted) column order.
    tfs = np.asarray(counts.sum(axis=0)).ravel()
    dfs = np.bincount(counts.indices, minlength=counts.shape[1])
    mask = dfs >= min_df
    if max_features is not None and mask.sum() > max_features:
        mask_inds = (-tfs[mask]).argsort()[:max_features]
        new_mask = np.zeros(len(dfs), dtype=bool)
        new_mask[np.where(mask)[0][mask_inds]] = True
        mask = new_mask
    kept = np.where(mask)[0]
    if not len(kept):
        raise ValueError("After pruning, no terms remain. Try a lower min_df.")
    counts = counts[:, kept]
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
    return tfidf.transform(counts, copy=False), [terms[k] for k in kept], np.asarray(tfidf.idf_, dtype=np.float32)


class _Block:
    """One TF-IDF block at prediction time, without scikit-learn: the same n-grams, sublinear tf,
    idf and l2 norm as the TfidfVectorizer it was exported from (tests compare them)."""

    def __init__(self, analyzer: str, ngram_range: tuple[int, int], terms: Sequence[str], idf: np.ndarray,
                 word_cache_size: int = WORD_CACHE_SIZE, source: str = FOLDED) -> None:
        self.analyzer = analyzer
        self.source = source  # which form of the text it reads: FOLDED or LEMMAS (joined by spaces)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.terms_list = list(terms)
        self.vocabulary = {t: i for i, t in enumerate(self.terms_list)}
        self.idf = idf
        # char_wb n-grams never cross a word, so a doc's ids are its words' ids in a row: each
        # word's ids are worked out once (bounded, like the lemma cache) instead of per message.
        self._word_ids: dict[str, tuple[int, ...]] = {}
        self._word_cache_size = word_cache_size

    @classmethod
    def from_vectorizer(cls, vectorizer: Any, source: str = FOLDED) -> _Block:
        import numpy as np

        terms = [""] * len(vectorizer.vocabulary_)
        for term, index in vectorizer.vocabulary_.items():
            terms[index] = term
        return cls(vectorizer.analyzer, vectorizer.ngram_range, terms, np.asarray(vectorizer.idf_, dtype=np.float32),
                   source=source)

    def ngrams(self, doc: str) -> list[str]:
        doc = doc.lower()
        low, high = self.ngram_range
        out: list[str] = []
        if self.analyzer == "word":
            tokens = doc.split()
            for n in range(low, min(high, len(tokens)) + 1):
                if n == 1:
                    out += tokens  # the same strings as joining each one alone, without the joins
                else:
                    out += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
            return out
        doc = _SPACES_RE.sub(" ", doc)
        if self.analyzer == "char":
            for n in range(low, min(high, len(doc)) + 1):
                out += [doc[i:i + n] for i in range(len(doc) - n + 1)]
            return out
        for word in doc.split():  # char_wb: n-grams inside words padded with a space
            out += self._word_ngrams(word)
        return out

    def _word_ngrams(self, word: str) -> list[str]:
        """One word's char_wb n-grams, the word padded with a space on each side."""
        return char_wb_word_ngrams(word, *self.ngram_range)

    def _padded_word_ids(self, word: str) -> tuple[int, ...]:
        """Vocabulary ids of one word's char_wb n-grams, in `ngrams` order (out-of-vocabulary ones left out)."""
        cached = self._word_ids.get(word)
        if cached is not None:
            return cached
        get = self.vocabulary.get
        result = tuple(i for i in map(get, self._word_ngrams(word)) if i is not None)
        if len(self._word_ids) < self._word_cache_size:
            self._word_ids[word] = result
        return result

    def counts(self, doc: str) -> tuple[list[int], list[int]]:
        """Vocabulary ids of the doc's n-grams and how often each occurs, in order of first occurrence."""
        if self.analyzer != "char_wb":
            return self._counts_from_ngrams(doc)
        ids: list[int] = []
        cached = self._word_ids.get
        for word in doc.lower().split():
            found = cached(word)
            ids += found if found is not None else self._padded_word_ids(word)
        counted = Counter(ids)  # same order as counting the n-gram strings: first occurrence
        return list(counted), list(counted.values())

    def _counts_from_ngrams(self, doc: str) -> tuple[list[int], list[int]]:
        """`counts` the plain way: every n-gram string, counted, then looked up (char, word; tests)."""
        get = self.vocabulary.get
        ids: list[int] = []
        counts: list[int] = []
        for gram, count in Counter(self.ngrams(doc)).items():  # counted in C, looked up once each
            index = get(gram)
            if index is not None:
                ids.append(index)
                counts.append(count)
        return ids, counts

    def encode(self, doc: str) -> tuple[list[int], list[float]]:
        """ids and TF-IDF values of one doc (sublinear tf, idf, l2 norm)."""
        ids, counts = self.counts(doc)
        values = [(1.0 + math.log(c)) * float(self.idf[i]) for i, c in zip(ids, counts, strict=True)]
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return ids, [v / norm for v in values]


class TopicModel:
    """Text (+ optional context) -> label, with calibrated probabilities. Train, save, load."""

    def __init__(self, settings: TopicModelSettings | None = None) -> None:
        self.settings = settings or TopicModelSettings()
        self.normaliser = TextNormaliser()
        self.classes: list[str] = []
        self.uses_context = False
        self.temperature = 1.0
        self._ratio_power: float | None = None  # the feature weighting `fit` chose (training only)
        self.metadata: dict[str, Any] = {}
        self._contexts: dict[str, int] = {}  # context key -> its one-hot column
        self._cross_keys: Any = None  # sorted int64 keys context column * word terms + word term id
        self._targets: list[str] = []  # what the SVM predicts: labels, roles for context-bound labels, sub-groups
        self._target_base: dict[str, str] = {}  # sub-group target -> the label or role it belongs to
        self._role_labels: dict[str, dict[str, str]] = {}  # role -> context key -> label ("" = fallback)
        self._blocks: list[_Block] = []  # [char of folded, word of lemmas (WORD_BLOCK), char of lemmas (optional)]
        self._joined_idf: Any = None  # every block's idf end to end, for _scores (built on first use)
        self._weights: Any = None  # (features, targets) float32: the SVM's coef_ transposed
        self._intercept: Any = None
        self._label_maps: dict[str, Any] = {}  # context key -> target -> label column (cache)

    @property
    def trained(self) -> bool:
        return self._weights is not None

    # ---- features for training (scikit-learn) ---------------------------------------------
    def _prepare(self, texts: Sequence[str]) -> tuple[list[str], list[str]]:
        folded = [self.normaliser.folded(t) for t in texts]
        lemmas = [" ".join(self.normaliser.lemmas(t)) for t in texts]
        return folded, lemmas

    @staticmethod
    def _context_key(value: str | None) -> str:
        return fold_text(value or "").strip()

    def _training_matrix(self, texts: Sequence[str], contexts: Sequence[str | None] | None,
                         prepared: tuple[list[str], list[str]] | None = None) -> csr_matrix:
        """The training features; `prepared` is `_prepare(texts)` when the caller already has it."""
        import numpy as np
        from scipy.sparse import csr_matrix, hstack
        from sklearn.feature_extraction.text import TfidfVectorizer

        s = self.settings
        folded, lemmas = prepared if prepared is not None else self._prepare(texts)

        def char_block(docs: Sequence[str], kind: str, ngrams: tuple[int, int], max_features: int | None,
                       source: str) -> csr_matrix:
            if kind == "char_wb":
                matrix, terms, idf = char_wb_tfidf(docs, ngrams, s.min_df, max_features)
                self._blocks.append(_Block(kind, ngrams, terms, idf, source=source))
                return matrix
            vectorizer = TfidfVectorizer(analyzer=kind, ngram_range=ngrams, min_df=s.min_df,
                                         max_features=max_features, sublinear_tf=True, dtype=np.float32)
            matrix = vectorizer.fit_transform(docs)
            self._blocks.append(_Block.from_vectorizer(vectorizer, source))
            return matrix

        self._cross_keys = None
        self._joined_idf = None
        self._blocks = []
        blocks = [char_block(folded, s.char_analyzer, s.char_ngrams, s.max_char_features, FOLDED)]
        word = TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=s.word_ngrams,
                               min_df=s.min_df, sublinear_tf=True, dtype=np.float32)
        blocks.append(word.fit_transform(lemmas))
        self._blocks.append(_Block.from_vectorizer(word, LEMMAS))
        if (s.lemma_char_ngrams is not None and len(texts) >= s.lemma_char_min_rows
                and (s.lemma_char_with_context or not self.uses_context)):
            blocks.append(char_block(lemmas, "char_wb", s.lemma_char_ngrams, s.max_lemma_char_features, LEMMAS))
        if self.uses_context:
            ctx = contexts if contexts is not None else [None] * len(texts)
            keys = [self._context_key(c) for c in ctx]
            self._contexts = {k: i for i, k in enumerate(sorted(set(keys) - {""}))}
            rows = [i for i, k in enumerate(keys) if k]
            cols = [self._contexts[keys[i]] for i in rows]
            data = np.full(len(rows), s.context_weight, dtype=np.float32)
            blocks.append(csr_matrix((data, (rows, cols)), shape=(len(keys), len(self._contexts))))
            context_of = np.array([self._contexts.get(k, -1) for k in keys], dtype=np.int64)
            blocks.append(self._cross_block(blocks[WORD_BLOCK], context_of))
        return hstack(blocks, format="csr")

    def _cross_block(self, word_block: csr_matrix, context_of: np.ndarray) -> csr_matrix:
        """Each row's lemma n-grams again, in its context's own copy of the word block; rare crosses dropped."""
        import numpy as np
        from scipy.sparse import csr_matrix

        width = word_block.shape[1]
        word_block = word_block.tocsr()
        row_of = np.repeat(np.arange(word_block.shape[0]), np.diff(word_block.indptr))
        ctx = context_of[row_of]
        keep = ctx >= 0
        keys = ctx[keep] * width + word_block.indices[keep].astype(np.int64)
        min_df = self.settings.context_cross_min_df
        if min_df <= 0 or not len(keys):
            self._cross_keys = np.zeros(0, dtype=np.int64)
            return csr_matrix((word_block.shape[0], 0), dtype=np.float32)
        unique, inverse, df = np.unique(keys, return_inverse=True, return_counts=True)
        self._cross_keys = unique[df >= min_df]
        column = np.cumsum(df >= min_df) - 1  # column of each kept key, among the kept ones
        kept = (df >= min_df)[inverse]
        return csr_matrix((word_block.data[keep][kept], (row_of[keep][kept], column[inverse][kept])),
                          shape=(word_block.shape[0], len(self._cross_keys)), dtype=np.float32)

    def _new_svm(self) -> Any:
        from sklearn.svm import LinearSVC

        # dual=True: fewer rows than n-gram features, where the dual solver is the fast one.
        return LinearSVC(C=self.settings.c, class_weight=self.settings.class_weight, dual=True)

    def _fit_svm(self, x: csr_matrix, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One SVM on `x` -> (coef, intercept, classes), each feature first scaled by how strongly it
        tells some class from the rest (`ratio_weight_power`); the scale is folded back into the
        coefficients, so prediction reads the unscaled features and costs the same."""
        from scipy.sparse import csr_matrix

        power = self._ratio_power
        if power is None:
            svm = self._new_svm().fit(x, y)
            return svm.coef_, svm.intercept_, svm.classes_
        scale = class_ratio_weights(x, y, power)
        scaled = csr_matrix((x.data * scale[x.indices], x.indices, x.indptr), shape=x.shape)
        svm = self._new_svm().fit(scaled, y)
        return svm.coef_ * scale, svm.intercept_, svm.classes_

    # ---- training -------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[str],
            contexts: Sequence[str | None] | None = None, details: Sequence[str | None] | None = None) -> TopicModel:
        """Learn labels from texts (+ contexts). `details` is an optional finer column the training data
        has and live messages do not (the sub-topic under a category, what the problem is about under
        an executor): a label's frequent (label, detail) pairs are learnt as sub-groups, one linear
        boundary each instead of one for a label that covers very different complaints, and their
        probabilities are summed back into the label. The model still answers with labels only."""
        import numpy as np

        if len(texts) != len(labels):
            raise ValueError("texts and labels differ in length")
        if contexts is not None and len(contexts) != len(texts):
            raise ValueError("texts and contexts differ in length")
        if details is not None and len(details) != len(texts):
            raise ValueError("texts and details differ in length")
        if len(set(labels)) < 2:
            raise ValueError("need at least two different labels to train")
        started = time.perf_counter()
        self.uses_context = contexts is not None
        self.classes = sorted(set(labels))
        roles = fold_context_bound_labels(labels, contexts) if contexts is not None else {}
        base_of = [roles.get(label, label) for label in labels]
        self._role_labels = _role_table(labels, base_of, contexts, roles)
        target_of, self._target_base = _detail_targets(base_of, details, self.settings.detail_min_rows)
        self._targets = sorted(set(target_of))
        self._label_maps = {}
        index = {t: i for i, t in enumerate(self._targets)}
        y = np.array([index[t] for t in target_of])
        prepared = self._prepare(texts)
        x = self._training_matrix(texts, contexts, prepared)
        weighted = (len(texts) >= self.settings.ratio_weight_min_rows
                    and (self.settings.ratio_weight_with_context or not self.uses_context))
        self._ratio_power = self.settings.ratio_weight_power if weighted else None
        self.temperature = self._calibrate(x, y, near_duplicate_groups(prepared[1]))
        coef, bias, fitted = self._fit_svm(x, y)
        weights = np.zeros((x.shape[1], len(self._targets)), dtype=np.float32)
        intercept = np.zeros(len(self._targets), dtype=np.float32)
        if len(fitted) == 2 and coef.shape[0] == 1:
            # A two-class SVM keeps one hyperplane; spread it over both columns.
            weights[:, fitted[1]], weights[:, fitted[0]] = coef[0] / 2, -coef[0] / 2
            intercept[fitted[1]], intercept[fitted[0]] = bias[0] / 2, -bias[0] / 2
        else:
            weights[:, fitted] = coef.T
            intercept[fitted] = bias
        self._weights, self._intercept = weights, intercept
        self.metadata = {
            "format": FORMAT_VERSION,
            "trained_on": len(texts),
            "classes": self.classes,
            "uses_context": self.uses_context,
            "context_roles": sorted(set(roles.values())),
            "detail_groups": len(self._target_base),
            "ratio_weight_power": self._ratio_power,
            "temperature": self.temperature,
            "training_seconds": round(time.perf_counter() - started, 2),
            "settings": asdict(self.settings),
        }
        return self

    def _calibrate(self, x: csr_matrix, y: np.ndarray, groups: np.ndarray | None = None) -> float:
        """Fit the softmax temperature on held-out SVM scores (honest, not training-set scores).

        One extra fit on a random part of the rows, scored on the rest: a single temperature needs
        far fewer rows than the SVM, and this keeps training on 30k rows well under a minute.
        `groups` (one id per row, see `near_duplicate_groups`) keeps near-duplicates together: a
        held-out text whose copy (another house number, the same complaint pasted again) was in the
        fitted part is scored as if learnt by heart, and the temperature comes out too sharp.
        """
        import numpy as np

        n = len(y)
        held_out = int(n * self.settings.calibration_share)
        if held_out < 20 or len(np.unique(y)) < 2:
            return 1.0
        test_idx, train_idx = _grouped_split(n, held_out, groups)
        # A few big groups can leave a part too small or with one label: no honest temperature then.
        if len(test_idx) < 20 or len(np.unique(y[test_idx])) < 2 or len(np.unique(y[train_idx])) < 2:
            return 1.0
        coef, bias, fitted = self._fit_svm(x[train_idx], y[train_idx])
        raw = np.asarray(x[test_idx] @ coef.T + bias)
        if raw.shape[1] == 1:
            raw = np.hstack([-raw, raw]) / 2
        scores = np.full((len(test_idx), len(self._targets)), -10.0)
        scores[:, fitted] = raw
        if not self._target_base:
            return _fit_temperature(scores, y[test_idx])
        bases = sorted({self._target_base.get(t, t) for t in self._targets})
        base_index = {b: i for i, b in enumerate(bases)}
        base_of_target = np.array([base_index[self._target_base.get(t, t)] for t in self._targets])
        merge = np.zeros((len(self._targets), len(bases)))
        merge[np.arange(len(self._targets)), base_of_target] = 1.0
        return _fit_temperature(scores, base_of_target[y[test_idx]], merge)

    # ---- prediction (numpy only) ----------------------------------------------------------
    def _scores(self, texts: Sequence[str], contexts: Sequence[str | None] | None) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), len(self._targets)), dtype=np.float32)
        blocks = self._blocks
        offsets = [0]
        for block in blocks:
            offsets.append(offsets[-1] + len(block.terms_list))
        word_offset = offsets[WORD_BLOCK]
        context_offset = offsets[-1]
        cross_keys = self._cross_keys if self._cross_keys is not None else np.zeros(0, dtype=np.int64)
        cross_offset = context_offset + len(self._contexts)
        use_cross = self.uses_context and contexts is not None and len(cross_keys) > 0
        if self._joined_idf is None:  # once per loaded model, not per call
            self._joined_idf = np.concatenate([b.idf for b in blocks]).astype(np.float32)
        idf = self._joined_idf
        # (block, its column offset, whether it reads the lemmas) in order: one run of features each per doc
        plan = [(b, offsets[i], b.source == LEMMAS) for i, b in enumerate(blocks)]
        per_doc = len(blocks)
        prepare = self.normaliser.prepare
        for begin in range(0, len(texts), 256):  # chunks keep the gathered weights small
            chunk = texts[begin:begin + 256]
            cols: list[int] = []
            counts: list[int] = []
            segments: list[int] = []  # length of each (doc, block) run of features, to l2-normalise it
            extra_rows: list[int] = []
            extra_cols: list[int] = []
            chunk_context = np.full(len(chunk), -1, dtype=np.int64)
            for n, text in enumerate(chunk):
                folded, lemma_list = prepare(text)
                lemmas = " ".join(lemma_list)
                for block, offset, reads_lemmas in plan:
                    ids, cnt = block.counts(lemmas if reads_lemmas else folded)
                    cols += [offset + i for i in ids] if offset else ids
                    counts += cnt
                    segments.append(len(ids))
                if self.uses_context and contexts is not None:
                    column = self._contexts.get(self._context_key(contexts[begin + n]))
                    if column is not None:
                        extra_rows.append(n)
                        extra_cols.append(context_offset + column)
                        chunk_context[n] = column
            if cols:
                col_array = np.fromiter(cols, dtype=np.int64, count=len(cols))  # faster than asarray
                counts_array = np.fromiter(counts, dtype=np.float32, count=len(counts))
                values = (1.0 + np.log(counts_array)) * idf[col_array]
                # Where each non-empty (doc, block) run and each non-empty doc starts: kept in Python,
                # which for a message at a time costs less than a dozen small numpy calls.
                run_starts: list[int] = []
                run_sizes: list[int] = []
                doc_starts: list[int] = []
                doc_rows: list[int] = []
                position = 0
                for n in range(len(chunk)):
                    sizes = segments[per_doc * n:per_doc * (n + 1)]
                    if any(sizes):
                        doc_starts.append(position)
                        doc_rows.append(begin + n)
                    for size in sizes:
                        if size:
                            run_starts.append(position)
                            run_sizes.append(size)
                            position += size
                values /= np.repeat(np.sqrt(np.add.reduceat(values * values, run_starts)), run_sizes)
                gathered = self._weights[col_array] * values[:, None]
                out[doc_rows] = np.add.reduceat(gathered, doc_starts, axis=0)
                if use_cross:
                    self._add_crosses(out, begin, col_array - word_offset, values, np.asarray(segments),
                                      chunk_context, cross_keys, cross_offset, len(blocks[WORD_BLOCK].terms_list))
            for n, column in zip(extra_rows, extra_cols, strict=True):
                out[begin + n] += self.settings.context_weight * self._weights[column]
        return out + self._intercept

    def _add_crosses(self, out: np.ndarray, begin: int, word_ids: np.ndarray, values: np.ndarray,
                     lengths: np.ndarray, chunk_context: np.ndarray, cross_keys: np.ndarray,
                     cross_offset: int, width: int) -> None:
        """Add the context x lemma cross weights of a chunk: each word-block entry, in its doc's context."""
        import numpy as np

        per_doc = len(self._blocks)
        segment_doc = np.repeat(np.arange(len(lengths) // per_doc), per_doc)
        segment_is_word = np.tile(np.arange(per_doc) == WORD_BLOCK, len(lengths) // per_doc)
        entry_doc = np.repeat(segment_doc, lengths)
        entry_ctx = chunk_context[entry_doc]
        mask = np.repeat(segment_is_word, lengths) & (entry_ctx >= 0)
        if not mask.any():
            return
        keys = entry_ctx[mask] * width + word_ids[mask]
        pos = np.minimum(np.searchsorted(cross_keys, keys), len(cross_keys) - 1)
        found = cross_keys[pos] == keys
        if not found.any():
            return
        docs = entry_doc[mask][found]
        gathered = self._weights[cross_offset + pos[found]] * values[mask][found][:, None]
        starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
        out[begin + docs[starts]] += np.add.reduceat(gathered, starts, axis=0)

    def _label_map(self, key: str) -> np.ndarray:
        """Column in `classes` of each target, in one context (roles mean a different body per context)."""
        import numpy as np

        cached = self._label_maps.get(key)
        if cached is None:
            label_index = {c: i for i, c in enumerate(self.classes)}
            cached = np.array([label_index[self._label_for(t, key)] for t in self._targets])
            self._label_maps[key] = cached
        return cached

    def _label_for(self, target: str, context_key: str) -> str:
        target = self._target_base.get(target, target)
        table = self._role_labels.get(target)
        if table is None:
            return target
        return table.get(context_key) or table[""]

    def predict_proba(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None) -> np.ndarray:
        """Probabilities over `self.classes`, one row per text."""
        import numpy as np

        if not self.trained:
            raise RuntimeError("the topic model is not trained")
        target_proba = _softmax(self._scores(texts, contexts).astype(np.float64), self.temperature)
        if not self._role_labels and not self._target_base:
            return target_proba  # targets are the classes themselves, in the same order
        keys = [self._context_key(c) for c in contexts] if contexts is not None else [""] * len(texts)
        columns = np.stack([self._label_map(k) for k in keys])
        out = np.zeros((len(texts), len(self.classes)))
        np.add.at(out, (np.arange(len(texts))[:, None], columns), target_proba)
        return out

    def predict(self, texts: Sequence[str],
                contexts: Sequence[str | None] | None = None) -> list[tuple[str, float]]:
        proba = self.predict_proba(texts, contexts)
        best = proba.argmax(axis=1)
        return [(self.classes[b], float(proba[i, b])) for i, b in enumerate(best)]

    def top(self, text: str, context: str | None = None, k: int = 3) -> list[tuple[str, float]]:
        proba = self.predict_proba([text], [context] if self.uses_context else None)[0]
        order = proba.argsort()[::-1][:k]
        return [(self.classes[i], float(proba[i])) for i in order]

    # ---- persistence ----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """One .npz file (no pickle: loading a model file cannot run code) and a readable model.json."""
        import numpy as np

        if not self.trained:
            raise RuntimeError("the topic model is not trained")
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        state = {
            "format": DETAIL_FORMAT_VERSION if self._target_base else FORMAT_VERSION,
            "target_base": self._target_base, "settings": asdict(self.settings), "classes": self.classes,
            "uses_context": self.uses_context, "temperature": self.temperature, "contexts": self._contexts,
            "targets": self._targets, "role_labels": self._role_labels, "metadata": self.metadata,
            "blocks": [{"analyzer": b.analyzer, "ngram_range": list(b.ngram_range), "source": b.source,
                        "terms": b.terms_list} for b in self._blocks],
        }
        blob = np.frombuffer(json.dumps(state, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
        arrays = {f"idf{i}": b.idf for i, b in enumerate(self._blocks)}
        if self._cross_keys is not None and len(self._cross_keys):
            arrays["cross_keys"] = self._cross_keys
        with (out / MODEL_FILE).open("wb") as fh:
            np.savez_compressed(fh, state=blob, weights=self._weights, intercept=self._intercept, **arrays)
        (out / META_FILE).write_text(json.dumps(self.metadata, ensure_ascii=False, indent=2), encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | Path) -> TopicModel:
        """From the folder `save` wrote, or from its model file (or any file in that folder)."""
        import numpy as np

        model_file = _model_file(path)
        try:
            with np.load(model_file, allow_pickle=False) as data:
                state = json.loads(bytes(data["state"]).decode("utf-8"))
                weights, intercept = data["weights"], data["intercept"]
                idfs = [data[f"idf{i}"] for i in range(len(state["blocks"]))]
                cross_keys = data["cross_keys"] if "cross_keys" in data.files else None
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"{model_file}: not a topic model file ({exc})") from None
        if state.get("format") not in READABLE_FORMATS:
            raise ValueError(f"{model_file}: model format {state.get('format')}, this version reads "
                             f"{' and '.join(map(str, READABLE_FORMATS))}; retrain it with `otklik train`")
        settings = dict(state["settings"])
        known = set(TopicModelSettings.__dataclass_fields__)
        model = cls(TopicModelSettings(**{k: v for k, v in settings.items() if k in known}))
        model.classes = state["classes"]
        model.uses_context = state["uses_context"]
        model.temperature = state["temperature"]
        model._contexts = state["contexts"]
        model._targets = state["targets"]
        model._role_labels = state["role_labels"]
        model._target_base = state.get("target_base", {})
        model.metadata = state.get("metadata", {})
        # Files written before blocks named their source had two: the folded text's, then the lemmas'.
        model._blocks = [_Block(b["analyzer"], b["ngram_range"], b["terms"], idf,
                                source=b.get("source", FOLDED if i == 0 else LEMMAS))
                         for i, (b, idf) in enumerate(zip(state["blocks"], idfs, strict=True))]
        model._weights, model._intercept = weights, intercept
        model._cross_keys = cross_keys
        return model


def _model_file(path: str | Path) -> Path:
    given = Path(path)
    model_file = given / MODEL_FILE if given.is_dir() else given
    if model_file.name != MODEL_FILE and not model_file.suffix == ".npz":
        model_file = model_file.parent / MODEL_FILE
    if not model_file.exists():
        raise FileNotFoundError(f"no topic model at {given} (expected {MODEL_FILE})")
    return model_file


@dataclass(frozen=True)
class ModelLabels:
    """What a saved model answers with, read without loading its weights (for config checks)."""

    classes: list[str]
    uses_context: bool
    context_keys: frozenset[str]  # TopicModel._context_key of each context value it was trained with


def read_model_labels(path: str | Path) -> ModelLabels:
    """The labels and contexts of a model `save` wrote; ValueError if the file is not one."""
    import numpy as np

    model_file = _model_file(path)
    try:
        with np.load(model_file, allow_pickle=False) as data:
            state = json.loads(bytes(data["state"]).decode("utf-8"))
        return ModelLabels(list(state["classes"]), bool(state["uses_context"]), frozenset(state["contexts"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{model_file}: not a topic model file ({exc})") from None


ROLE_PREFIX = "role:"


def _longest_common_substring(a: str, b: str) -> str:
    best_len, best_end = 0, 0
    previous = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        current = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                current[j] = previous[j - 1] + 1
                if current[j] > best_len:
                    best_len, best_end = current[j], i
        previous = current
    return a[best_end - best_len:best_end]


def fold_context_bound_labels(labels: Sequence[str], contexts: Sequence[str | None],
                              min_share: float = 0.9, min_overlap: int = 4) -> dict[str, str]:
    """Group labels that name their context into roles: label -> role key.

    Exports often name the body after the district it serves («Администрация Фрунзенского района»
    for district «Фрунзенский»). Such labels seen (almost) only with one context and sharing a stem
    with it become one role «администрация {}ого района», so the model learns the role from every
    district's rows and the context picks the body. Labels that fit no shared role stay as they are.
    """
    from collections import Counter, defaultdict

    by_label: dict[str, Counter[str]] = defaultdict(Counter)
    for label, ctx in zip(labels, contexts, strict=True):
        by_label[label][TopicModel._context_key(ctx)] += 1
    templates: dict[str, str] = {}
    for label, counter in by_label.items():
        ctx, n = counter.most_common(1)[0]
        if not ctx or n < min_share * sum(counter.values()):
            continue
        folded = fold_text(label)
        common = _longest_common_substring(folded, ctx)
        if len(common) >= min_overlap:
            templates[label] = ROLE_PREFIX + folded.replace(common, "{}", 1)
    shared = Counter(templates.values())
    return {label: t for label, t in templates.items() if shared[t] >= 2}


def _role_table(labels: Sequence[str], targets: Sequence[str], contexts: Sequence[str | None] | None,
                roles: dict[str, str]) -> dict[str, dict[str, str]]:
    """For every role: which label it means in each context, and the most frequent one as fallback."""
    from collections import Counter, defaultdict

    if contexts is None or not roles:
        return {}
    counts: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for label, target, ctx in zip(labels, targets, contexts, strict=True):
        if target in roles.values():
            counts[target][TopicModel._context_key(ctx)][label] += 1
            counts[target][""][label] += 1
    return {role: {key: c.most_common(1)[0][0] for key, c in per_ctx.items()} for role, per_ctx in counts.items()}


def _detail_targets(base_of: Sequence[str], details: Sequence[str | None] | None,
                    min_rows: int) -> tuple[list[str], dict[str, str]]:
    """(the target of each row, sub-group target -> its base): frequent (base, detail) pairs become sub-groups.

    A base with fewer than two frequent pairs keeps its own name: a single group learns nothing new.
    Rows with an empty or rare detail stay with the base target, the base's remaining group.
    """
    if details is None:
        return list(base_of), {}
    keys = [(base, (detail or "").strip()) for base, detail in zip(base_of, details, strict=True)]
    pairs = Counter(k for k in keys if k[1])
    groups = Counter(base for (base, _), n in pairs.items() if n >= min_rows)
    taken = set(base_of)  # a sub-group's name must not be some label's own
    kept = {k for k, n in pairs.items() if n >= min_rows and groups[k[0]] > 1
            and f"{k[0]}{DETAIL_SEPARATOR}{k[1]}" not in taken}
    target_of, target_base = [], {}
    for key in keys:
        if key in kept:
            name = f"{key[0]}{DETAIL_SEPARATOR}{key[1]}"
            target_base[name] = key[0]
            target_of.append(name)
        else:
            target_of.append(key[0])
    return target_of, target_base


def train_topic_model(texts: Iterable[str], labels: Iterable[str], contexts: Iterable[str | None] | None = None,
                      settings: TopicModelSettings | None = None) -> TopicModel:
    """Convenience wrapper: lists in, fitted model out."""
    ctx = list(contexts) if contexts is not None else None
    return TopicModel(settings).fit(list(texts), list(labels), ctx)
