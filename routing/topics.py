"""Topic model for short Russian citizen messages: text -> label with a calibrated probability.

Features are TF-IDF character n-grams of the normalised text (robust to typos and missing
spaces), TF-IDF lemma n-grams (pymorphy3 folds «ям», «ямы», «ямами» into one feature), and an
optional context value (what the bot already knows besides the text, e.g. a city district),
both on its own and crossed with the lemmas so a label can depend on text *and* context.
A linear SVM gives the scores; a softmax with a temperature fitted on out-of-fold scores turns
them into probabilities whose top value can be used as a routing confidence.

Heavy imports (numpy, scipy, scikit-learn, pymorphy3) happen on first use, so importing this
module costs nothing until a model is trained or loaded.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pymorphy3
    from scipy.sparse import csr_matrix

MODEL_FILE = "topic_model.joblib"
META_FILE = "model.json"
FORMAT_VERSION = 1

# Latin letters that look like Cyrillic ones: people (and phone keyboards) mix them in words.
_LOOKALIKES = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у",
                             "k": "к", "m": "м", "t": "т", "h": "н", "b": "в"})
_TOKEN_RE = re.compile(r"[a-zа-я]+|\d+")
_CYRILLIC_RE = re.compile(r"[а-я]")
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
    words = []
    for word in text.split():
        # Only words that already have Cyrillic letters are fixed: «wifi» must stay Latin.
        if _CYRILLIC_RE.search(word) and re.search(r"[a-z]", word):
            word = word.translate(_LOOKALIKES)
        words.append(word)
    return " ".join(words)


@lru_cache(maxsize=1)
def morph_analyzer() -> pymorphy3.MorphAnalyzer:
    """The pymorphy3 analyser, loaded once per process (it takes a few hundred milliseconds)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


class TextNormaliser:
    """Turns a raw message into folded text (for char n-grams) and lemmas (for word n-grams)."""

    def __init__(self, cache_size: int = 200_000) -> None:
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    def tokens(self, text: str) -> list[str]:
        folded = _ABBREVIATION_RE.sub(lambda m: f" {_ABBREVIATIONS[m.group(1)]} ", fold_text(text))
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


@dataclass
class TopicModelSettings:
    """Knobs of the topic model; stored with the model so a loaded model explains itself."""

    char_ngrams: tuple[int, int] = (1, 5)
    word_ngrams: tuple[int, int] = (1, 2)
    min_df: int = 2
    max_char_features: int | None = 300_000
    c: float = 0.3  # LinearSVC regularisation; 0.2–1 all do well on short texts
    context_weight: float = 1.0  # scale of the one-hot context block
    cross_weight: float = 0.5  # scale of the context x lemma block
    calibration_share: float = 0.25  # rows held out once to fit the probability temperature
    class_weight: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Settings read back from JSON come with lists; scikit-learn insists on tuples.
        self.char_ngrams = (int(self.char_ngrams[0]), int(self.char_ngrams[1]))
        self.word_ngrams = (int(self.word_ngrams[0]), int(self.word_ngrams[1]))


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    import numpy as np

    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """Temperature that minimises the log-loss of softmax(scores / T) on out-of-fold scores."""
    import numpy as np

    rows = np.arange(len(y))

    def nll(t: float) -> float:
        p = _softmax(scores, t)[rows, y]
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


class TopicModel:
    """Text (+ optional context) -> label, with calibrated probabilities. Train, save, load."""

    def __init__(self, settings: TopicModelSettings | None = None) -> None:
        self.settings = settings or TopicModelSettings()
        self.normaliser = TextNormaliser()
        self.classes: list[str] = []
        self.uses_context = False
        self.temperature = 1.0
        self.metadata: dict[str, Any] = {}
        self._char: Any = None
        self._word: Any = None
        self._cross: Any = None
        self._contexts: dict[str, int] = {}
        self._svm: Any = None
        self._targets: list[str] = []  # what the SVM predicts: labels, or roles for context-bound labels
        self._role_labels: dict[str, dict[str, str]] = {}  # role -> context key -> label ("" = fallback)

    # ---- features -------------------------------------------------------------------------
    def _prepare(self, texts: Sequence[str]) -> tuple[list[str], list[str]]:
        folded = [self.normaliser.folded(t) for t in texts]
        lemmas = [" ".join(self.normaliser.lemmas(t)) for t in texts]
        return folded, lemmas

    @staticmethod
    def _context_key(value: str | None) -> str:
        return fold_text(value or "").strip()

    def _crossed(self, lemmas: Sequence[str], contexts: Sequence[str | None]) -> list[str]:
        out = []
        for lem, ctx in zip(lemmas, contexts, strict=True):
            key = self._context_key(ctx).replace(" ", "_") or "none"
            out.append(" ".join(f"{key}|{w}" for w in lem.split()))
        return out

    def _context_matrix(self, contexts: Sequence[str | None]) -> csr_matrix:
        import numpy as np
        from scipy.sparse import csr_matrix

        cols = [self._contexts.get(self._context_key(c), -1) for c in contexts]
        rows = [i for i, c in enumerate(cols) if c >= 0]
        data = np.full(len(rows), self.settings.context_weight)
        return csr_matrix((data, (rows, [cols[i] for i in rows])), shape=(len(cols), len(self._contexts)))

    def _features(self, texts: Sequence[str], contexts: Sequence[str | None] | None, fit: bool) -> csr_matrix:
        from scipy.sparse import hstack

        folded, lemmas = self._prepare(texts)
        if fit:
            blocks = [self._char.fit_transform(folded), self._word.fit_transform(lemmas)]
        else:
            blocks = [self._char.transform(folded), self._word.transform(lemmas)]
        if self.uses_context:
            ctx: Sequence[str | None] = contexts if contexts is not None else [None] * len(texts)
            if fit:
                self._contexts = {k: i for i, k in enumerate(sorted({self._context_key(c) for c in ctx} - {""}))}
            blocks.append(self._context_matrix(ctx))
            crossed = self._crossed(lemmas, ctx)
            cross = self._cross.fit_transform(crossed) if fit else self._cross.transform(crossed)
            blocks.append(cross * self.settings.cross_weight)
        return hstack(blocks, format="csr")

    def _new_vectorizers(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        s = self.settings
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=s.char_ngrams, min_df=s.min_df,
                                     max_features=s.max_char_features, sublinear_tf=True, dtype=_float32())
        self._word = TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=s.word_ngrams,
                                     min_df=s.min_df, sublinear_tf=True, dtype=_float32())
        self._cross = TfidfVectorizer(analyzer="word", token_pattern=r"\S+", min_df=s.min_df,
                                      sublinear_tf=True, dtype=_float32())

    def _new_svm(self) -> Any:
        from sklearn.svm import LinearSVC

        return LinearSVC(C=self.settings.c, class_weight=self.settings.class_weight)

    # ---- training -------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[str],
            contexts: Sequence[str | None] | None = None) -> TopicModel:
        import numpy as np

        if len(texts) != len(labels):
            raise ValueError("texts and labels differ in length")
        if contexts is not None and len(contexts) != len(texts):
            raise ValueError("texts and contexts differ in length")
        if len(set(labels)) < 2:
            raise ValueError("need at least two different labels to train")
        started = time.perf_counter()
        self.uses_context = contexts is not None
        self._new_vectorizers()
        self.classes = sorted(set(labels))
        roles = fold_context_bound_labels(labels, contexts) if contexts is not None else {}
        target_of = [roles.get(label, label) for label in labels]
        self._targets = sorted(set(target_of))
        self._role_labels = _role_table(labels, target_of, contexts, roles)
        index = {t: i for i, t in enumerate(self._targets)}
        y = np.array([index[t] for t in target_of])
        x = self._features(texts, contexts, fit=True)
        self.temperature = self._calibrate(x, y)
        self._svm = self._new_svm().fit(x, y)
        self._compact()
        self.metadata = {
            "format": FORMAT_VERSION,
            "trained_on": len(texts),
            "classes": self.classes,
            "uses_context": self.uses_context,
            "context_roles": sorted(set(roles.values())),
            "temperature": self.temperature,
            "training_seconds": round(time.perf_counter() - started, 2),
            "settings": asdict(self.settings),
        }
        return self

    def _calibrate(self, x: csr_matrix, y: np.ndarray) -> float:
        """Fit the softmax temperature on held-out SVM scores (honest, not training-set scores).

        One extra fit on a random part of the rows, scored on the rest: a single temperature needs
        far fewer rows than the SVM, and this keeps training on 30k rows well under a minute.
        """
        import numpy as np

        n = len(y)
        held_out = int(n * self.settings.calibration_share)
        if held_out < 20 or len(np.unique(y)) < 2:
            return 1.0
        order = np.random.default_rng(0).permutation(n)
        test_idx, train_idx = order[:held_out], order[held_out:]
        if len(np.unique(y[train_idx])) < 2:
            return 1.0
        svm = self._new_svm().fit(x[train_idx], y[train_idx])
        scores = np.full((held_out, len(self._targets)), -10.0)
        scores[:, svm.classes_] = _scores(svm, x[test_idx], len(svm.classes_))
        return _fit_temperature(scores, y[test_idx])

    def _compact(self) -> None:
        """float32 weights and no stop-word list: halves the file and the load time."""
        import numpy as np

        self._svm.coef_ = np.ascontiguousarray(self._svm.coef_, dtype=np.float32)
        self._svm.intercept_ = self._svm.intercept_.astype(np.float32)
        for vec in (self._char, self._word, self._cross):
            if hasattr(vec, "stop_words_"):
                vec.stop_words_ = None

    # ---- prediction -----------------------------------------------------------------------
    def predict_proba(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None) -> np.ndarray:
        """Probabilities over `self.classes`, one row per text."""
        import numpy as np

        if self._svm is None:
            raise RuntimeError("the topic model is not trained")
        x = self._features(texts, contexts, fit=False)
        target_proba = _softmax(_scores(self._svm, x, len(self._targets)), self.temperature)
        label_index = {c: i for i, c in enumerate(self.classes)}
        ctx = contexts if contexts is not None else [None] * len(texts)
        out = np.zeros((len(texts), len(self.classes)))
        keys = [self._context_key(c) for c in ctx]
        # Rows that share a context share the target -> label mapping: one matrix product per context.
        for key in set(keys):
            rows = [i for i, k in enumerate(keys) if k == key]
            cols = [label_index[self._label_for(t, key)] for t in self._targets]
            mapping = np.zeros((len(self._targets), len(self.classes)))
            mapping[np.arange(len(self._targets)), cols] = 1.0
            out[rows] = target_proba[rows] @ mapping
        return out

    def _label_for(self, target: str, context_key: str) -> str:
        table = self._role_labels.get(target)
        if table is None:
            return target
        return table.get(context_key) or table[""]

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
        import joblib

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        state = {"settings": self.settings, "classes": self.classes, "uses_context": self.uses_context,
                 "temperature": self.temperature, "char": self._char, "word": self._word,
                 "cross": self._cross, "contexts": self._contexts, "svm": self._svm,
                 "targets": self._targets, "role_labels": self._role_labels}
        joblib.dump(state, out / MODEL_FILE, compress=3)
        (out / META_FILE).write_text(json.dumps(self.metadata, ensure_ascii=False, indent=2), encoding="utf-8")
        return out

    @classmethod
    def load(cls, directory: str | Path) -> TopicModel:
        import joblib

        path = Path(directory)
        model_file = path / MODEL_FILE if path.is_dir() else path
        if not model_file.exists():
            raise FileNotFoundError(f"no topic model at {model_file}")
        state = joblib.load(model_file)
        model = cls(state["settings"])
        model.classes = state["classes"]
        model.uses_context = state["uses_context"]
        model.temperature = state["temperature"]
        model._char, model._word, model._cross = state["char"], state["word"], state["cross"]
        model._contexts = state["contexts"]
        model._svm = state["svm"]
        model._targets = state["targets"]
        model._role_labels = state["role_labels"]
        meta = model_file.parent / META_FILE
        if meta.exists():
            model.metadata = json.loads(meta.read_text(encoding="utf-8"))
        return model


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


def _scores(svm: Any, x: csr_matrix, n_classes: int) -> np.ndarray:
    """Decision scores as an (n, classes) matrix, also for a two-class SVM that returns one column."""
    import numpy as np

    raw = x @ svm.coef_.T + svm.intercept_
    raw = np.asarray(raw)
    if n_classes == 2 and raw.shape[1] == 1:
        return np.hstack([-raw, raw])
    return raw


def _float32() -> Any:
    import numpy as np

    return np.float32


def train_topic_model(texts: Iterable[str], labels: Iterable[str], contexts: Iterable[str | None] | None = None,
                      settings: TopicModelSettings | None = None) -> TopicModel:
    """Convenience wrapper: lists in, fitted model out."""
    ctx = list(contexts) if contexts is not None else None
    return TopicModel(settings).fit(list(texts), list(labels), ctx)
