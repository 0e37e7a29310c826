"""Accuracy and speed of the trained router on a labelled CSV (a script, not a test).

Splits the rows into train/test by a hash of the id column (stable across runs and machines),
trains the topic model on the train part, and prints on the test part: accuracy, macro-F1,
precision and coverage at a confidence threshold (the rest would go to the triage chat), the
highest coverage that keeps precision >= the target, training time, prediction speed (batch and
one message at a time), load time and size on disk.

    python benchmarks/routing_accuracy.py ../shared/data/spb_appeals_train.csv --label-column category
    python benchmarks/routing_accuracy.py ../shared/data/spb_appeals_train.csv \
        --label-column executor_org --context-column district
    python benchmarks/routing_accuracy.py ../shared/data/spb_appeals_train.csv \
        --label-column category --detail-column city_object [--seed a]
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# After the path fix, so the script runs from a checkout without installing.
from routing.evaluation import at_threshold, coverage_at_precision, macro_f1  # noqa: E402
from routing.training import DataError, read_table, train_from_table  # noqa: E402


def _is_test(key: str, share: float, seed: str) -> bool:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="labelled CSV")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="category")
    parser.add_argument("--context-column", default=None)
    parser.add_argument("--detail-column", action="append", default=[],
                        help="a finer column to learn sub-groups from (repeatable; training only)")
    parser.add_argument("--id-column", default="id", help="split key (row number if the column is absent)")
    parser.add_argument("--test-share", type=float, default=0.2)
    parser.add_argument("--seed", default="otklik", help="changes the split")
    parser.add_argument("--threshold", type=float, default=0.8, help="confidence below it goes to triage")
    parser.add_argument("--target-precision", type=float, default=0.95)
    args = parser.parse_args(argv)

    try:
        table = read_table(args.data, [args.text_column, args.label_column, args.context_column, *args.detail_column])
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = [r for r in table.rows if r[args.text_column].strip() and r[args.label_column].strip()]
    keyed = [(r.get(args.id_column) or str(n), r) for n, r in enumerate(rows)]
    test = [r for key, r in keyed if _is_test(key, args.test_share, args.seed)]
    train = [r for key, r in keyed if not _is_test(key, args.test_share, args.seed)]
    print(f"{args.data}: {len(rows)} labelled rows -> train {len(train)}, test {len(test)}; "
          f"label {args.label_column!r}, context {args.context_column!r}, details {args.detail_column}")

    train_table = type(table)(table.columns, train)
    model, report = train_from_table(train_table, args.text_column, args.label_column, args.context_column,
                                     detail_columns=args.detail_column)
    print(f"training: {report.seconds:.1f} s ({report.classes} labels)")

    texts = [r[args.text_column] for r in test]
    contexts = [r[args.context_column] for r in test] if args.context_column else None
    truth = [r[args.label_column] for r in test]
    started = time.perf_counter()
    predictions = model.predict(texts, contexts)
    batch_seconds = time.perf_counter() - started
    predicted = [p for p, _ in predictions]
    confidence = [c for _, c in predictions]
    correct = [p == t for p, t in zip(predicted, truth, strict=True)]

    sample = texts[:500]
    started = time.perf_counter()
    for n, text in enumerate(sample):
        model.predict([text], [contexts[n]] if contexts else None)
    single_ms = (time.perf_counter() - started) / len(sample) * 1000

    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
        # A fresh process, so the time includes importing scikit-learn and loading pymorphy3.
        probe = ("import sys, time; t = time.perf_counter(); from routing.topics import TopicModel; "
                 "m = TopicModel.load(sys.argv[1]); m.predict(['проверка'], [''] if m.uses_context else None); "
                 "print(time.perf_counter() - t)")
        root = str(Path(__file__).resolve().parent.parent)
        out = subprocess.run([sys.executable, "-c", probe, tmp], capture_output=True, text=True, cwd=root, check=True)
        load_seconds = float(out.stdout.strip().splitlines()[-1])

    accuracy = sum(correct) / len(correct)
    point = at_threshold(correct, confidence, args.threshold)
    precision_at = point.precision if point.precision is not None else float("nan")
    coverage, cut = coverage_at_precision(correct, confidence, args.target_precision)
    print(f"accuracy: {accuracy:.4f}")
    print(f"macro-F1: {macro_f1(truth, predicted):.4f}")
    print(f"at threshold {args.threshold:.2f}: precision {precision_at:.4f}, routed {point.coverage:.1%}, "
          f"to triage {1 - point.coverage:.1%}")
    print(f"precision >= {args.target_precision:.2f}: coverage {coverage:.1%} at threshold {cut:.3f}")
    print(f"prediction: {len(test) / batch_seconds:,.0f} messages/s in a batch, "
          f"{single_ms:.2f} ms per message one at a time")
    print(f"model: {size / 1e6:.1f} MB on disk, loads and answers in {load_seconds:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
