"""How the shipped seed model's confidence splits routed appeals from triage (a script, not a test).

The live bot routes an appeal when the category confidence (topic model + the config's keywords,
exactly as `ModelClassifier` computes it) reaches `routing.min_confidence`, and sends it to the
triage chat otherwise. This script measures, for a range of thresholds, on seed examples the
model did not see (k-fold cross-validation over `routing/data/seed_examples.csv`, each fold's
model trained on the other folds like the default model is trained on all of them):

- routed: the share of appeals that go straight to an account;
- precision: how many of those have the right category;
- caught: the share of the model's mistakes that the threshold sends to triage instead.

    python benchmarks/seed_threshold.py [--config config.yaml] [--folds 5]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# After the path fix, so the script runs from a checkout without installing.
from bot.config import load_config  # noqa: E402
from routing.smart import CategoryKeywords, ModelClassifier  # noqa: E402
from routing.topics import TopicModel, TopicModelSettings  # noqa: E402
from routing.training import load_seed_examples  # noqa: E402

THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8)


def _fold(text: str, folds: int) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % folds


def cross_validated(config_path: Path, folds: int) -> list[tuple[bool, float]]:
    """(right category, confidence) for every seed example, each from a model that did not see it."""
    config = load_config(config_path)
    categories = [CategoryKeywords(c.code, tuple(c.keywords)) for c in config.categories]
    texts, labels = load_seed_examples()
    results: list[tuple[bool, float]] = []
    for k in range(folds):
        train = [i for i, t in enumerate(texts) if _fold(t, folds) != k]
        test = [i for i, t in enumerate(texts) if _fold(t, folds) == k]
        model = TopicModel(TopicModelSettings()).fit([texts[i] for i in train], [labels[i] for i in train])
        classifier = ModelClassifier(model, categories=categories, resolver=None)
        for i, result in zip(test, classifier.classify_many([texts[i] for i in test]), strict=True):
            results.append((result.category == labels[i], result.category_confidence))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(Path(__file__).resolve().parent.parent / "config.yaml"))
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)

    results = cross_validated(Path(args.config), args.folds)
    total = len(results)
    wrong = sum(not ok for ok, _ in results)
    print(f"{total} seed examples, {args.folds}-fold: accuracy {1 - wrong / total:.3f} ({wrong} wrong)")
    print(f"{'threshold':>9}  {'routed':>7}  {'precision':>9}  {'to triage':>9}  {'mistakes caught':>15}")
    for threshold in THRESHOLDS:
        routed = [ok for ok, conf in results if conf >= threshold]
        caught = sum(not ok for ok, conf in results if conf < threshold)
        precision = sum(routed) / len(routed) if routed else float("nan")
        print(f"{threshold:>9.2f}  {len(routed) / total:>7.1%}  {precision:>9.3f}  "
              f"{1 - len(routed) / total:>9.1%}  {caught / wrong if wrong else 0:>15.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
