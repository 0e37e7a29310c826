"""How good a router is on labelled rows: accuracy, macro-F1, per-label scores, and how much of
the traffic a confidence threshold lets through at what precision (the rest goes to triage).

Used by `otklik evaluate` and benchmarks/routing_accuracy.py. Pure Python on lists: no model here.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

# Confidence thresholds of the precision/coverage table.
DEFAULT_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
DEFAULT_TARGET_PRECISION = 0.95


@dataclass(frozen=True)
class LabelScore:
    label: str
    support: int  # rows whose true label it is
    predicted: int  # rows predicted as it
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    covered: int  # rows with confidence >= threshold (routed; the rest would go to triage)
    coverage: float  # covered / rows
    precision: float | None  # share of the covered rows predicted right; None when none is covered


@dataclass
class Evaluation:
    rows: int
    correct: int
    accuracy: float
    macro_f1: float
    labels: list[LabelScore]
    curve: list[CurvePoint]
    target_precision: float
    # The lowest threshold whose covered rows keep precision >= target, and their share;
    # None when even the most confident rows miss the target.
    target_threshold: float | None
    target_coverage: float
    notes: list[str] = field(default_factory=list)
    # The value to configure: target_threshold as a short number, and the coverage and precision
    # at exactly that value on these rows (see suggest_threshold); None with target_threshold.
    suggested: CurvePoint | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at_target_precision"] = {
            "target": self.target_precision, "threshold": self.target_threshold, "coverage": self.target_coverage,
            "suggested": data["suggested"],
        }
        for key in ("target_precision", "target_threshold", "target_coverage", "suggested"):
            del data[key]
        return data


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Mean F1 over the labels present in `truth` (a label only ever predicted adds no term)."""
    scores = label_scores(truth, predicted)
    present = [s.f1 for s in scores if s.support]
    return sum(present) / len(present) if present else 0.0


def label_scores(truth: Sequence[str], predicted: Sequence[str]) -> list[LabelScore]:
    """Precision, recall and F1 of every label seen in either list, the most frequent true label first."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    support = Counter(truth)
    guessed = Counter(predicted)
    hits = Counter(t for t, p in zip(truth, predicted, strict=True) if t == p)
    scores = []
    for label in set(support) | set(guessed):
        tp, n_true, n_pred = hits[label], support[label], guessed[label]
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * tp / (n_true + n_pred) if tp else 0.0
        scores.append(LabelScore(label, n_true, n_pred, precision, recall, f1))
    scores.sort(key=lambda s: (-s.support, -s.predicted, s.label))
    return scores


def coverage_at_precision(correct: Sequence[bool], confidence: Sequence[float], target: float) -> tuple[float, float]:
    """Largest share of messages, most confident first, whose precision stays >= target; its threshold.

    (0.0, 1.0) when no such share exists. The threshold is the confidence of the last message let
    through, so "confidence >= threshold" selects exactly that share.
    """
    order = sorted(range(len(correct)), key=lambda i: -confidence[i])
    hits, best_n, threshold = 0, 0, 1.0
    for n, i in enumerate(order, start=1):
        hits += correct[i]
        # Only cut between distinct confidences: a threshold cannot split equal scores.
        next_differs = n == len(order) or confidence[order[n]] < confidence[i]
        if next_differs and hits / n >= target:
            best_n, threshold = n, confidence[i]
    return (best_n / len(correct) if correct else 0.0), threshold


def at_threshold(correct: Sequence[bool], confidence: Sequence[float], threshold: float) -> CurvePoint:
    """Coverage and precision of the messages whose confidence is >= threshold."""
    passed = [ok for ok, c in zip(correct, confidence, strict=True) if c >= threshold]
    precision = sum(passed) / len(passed) if passed else None
    return CurvePoint(threshold, len(passed), len(passed) / len(correct) if correct else 0.0, precision)


def suggest_threshold(correct: Sequence[bool], confidence: Sequence[float], threshold: float,
                      target: float) -> CurvePoint:
    """The value to configure for `threshold` (from coverage_at_precision), with its own coverage and
    precision on these rows. Rounded down to two decimals, else three, else four, when that keeps
    the target precision (the rounded value then routes at least the threshold's rows); else rounded
    up (fewer rows pass, and the point says how many); else the threshold itself."""
    candidates = [math.floor(threshold * 10**d + 1e-9) / 10**d for d in (2, 3, 4)]
    candidates += [math.ceil(threshold * 10**d - 1e-9) / 10**d for d in (2, 3, 4)]
    for value in candidates:
        point = at_threshold(correct, confidence, value)
        if point.covered and point.precision is not None and point.precision >= target:
            return point
    return at_threshold(correct, confidence, threshold)


def evaluate(truth: Sequence[str], predicted: Sequence[str], confidence: Sequence[float], *,
             target_precision: float = DEFAULT_TARGET_PRECISION,
             thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> Evaluation:
    if not (len(truth) == len(predicted) == len(confidence)):
        raise ValueError("truth, predicted and confidence differ in length")
    correct = [t == p for t, p in zip(truth, predicted, strict=True)]
    rows = len(correct)
    coverage, threshold = coverage_at_precision(correct, confidence, target_precision)
    evaluation = Evaluation(
        rows=rows,
        correct=sum(correct),
        accuracy=sum(correct) / rows if rows else 0.0,
        macro_f1=macro_f1(truth, predicted),
        labels=label_scores(truth, predicted),
        curve=[at_threshold(correct, confidence, t) for t in sorted(thresholds)],
        target_precision=target_precision,
        target_threshold=threshold if coverage > 0 else None,
        target_coverage=coverage,
        suggested=suggest_threshold(correct, confidence, threshold, target_precision) if coverage > 0 else None,
    )
    return evaluation


def threshold_hint(evaluation: Evaluation, key: str | None = None) -> str | None:
    """The line that says which confidence threshold to configure; None when no threshold reaches the
    target. The value is `Evaluation.suggested`: short, and its coverage and precision are the ones
    at that very value on these rows (not the unrounded threshold's)."""
    e = evaluation
    point = e.suggested
    if e.target_threshold is None or point is None:
        return None
    where = key or ("routing.min_confidence for a model of categories, classifier.account_min_confidence "
                    "for a model of who answered")
    precision = f", precision {point.precision:.1%}" if point.precision is not None else ""
    return (f"for precision >= {e.target_precision:.2f} set the threshold ({where}) to "
            f"{threshold_text(point.threshold)}: about {point.coverage:.1%} of such appeals would be routed by it "
            f"({point.covered} of these {e.rows} rows{precision})")


def threshold_text(value: float) -> str:
    """0.29 -> "0.29", 0.295 -> "0.295", 0.3 -> "0.30": at least two decimals, at most four."""
    text = f"{value:.4f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


# ---- the text report ---------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.1%}"


def format_report(evaluation: Evaluation, *, max_labels: int | None = None) -> str:
    """The figures as a few aligned plain-text tables (what `otklik evaluate` prints)."""
    e = evaluation
    lines = [
        f"rows: {e.rows}",
        f"accuracy: {e.accuracy:.4f} ({e.correct} of {e.rows} right)",
        f"macro-F1: {e.macro_f1:.4f} (over the {sum(1 for s in e.labels if s.support)} labels in the data)",
        "",
    ]
    shown = e.labels if max_labels is None else e.labels[:max_labels]
    width = max([len("label"), *(len(s.label) for s in shown)])
    lines.append(f"{'label':<{width}}  {'support':>7}  {'precision':>9}  {'recall':>6}  {'F1':>6}")
    for s in shown:
        lines.append(f"{s.label:<{width}}  {s.support:>7}  {s.precision:>9.3f}  {s.recall:>6.3f}  {s.f1:>6.3f}")
    if len(shown) < len(e.labels):
        lines.append(f"… and {len(e.labels) - len(shown)} more labels (all of them in --report)")
    lines += ["", "confidence >=  coverage  precision  (the rest would go to triage)"]
    for point in e.curve:
        lines.append(f"{point.threshold:>13.2f}  {_pct(point.coverage):>8}  {_pct(point.precision):>9}")
    lines.append("")
    if e.target_threshold is None:
        lines.append(f"at precision >= {e.target_precision:.2f}: no threshold reaches it "
                     "(even the most confident predictions are wrong too often)")
    else:
        lines.append(f"at precision >= {e.target_precision:.2f}: threshold {e.target_threshold:.3f}, "
                     f"coverage {e.target_coverage:.1%}")
    return "\n".join(lines)
