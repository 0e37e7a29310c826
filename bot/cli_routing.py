"""`otklik train` and `otklik predict`: a router learned from a region's own exported history.

    otklik train --data FILE.csv --text-column COL --label-column COL [--context-column COL] --out DIR
    otklik train [--out DIR]          # no --data: the default model from the shipped seed examples
    otklik predict --model DIR --data FILE.csv --text-column COL [--context-column COL] --out PRED.csv

Exit codes: 0 done, 2 bad input (a missing file or column, a malformed CSV), named in the message.
Heavy libraries are imported inside the handlers so `otklik --help` stays instant.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

EXIT_BAD_INPUT = 2


def register(subparsers: Any) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a router from a CSV export (or, without --data, the default model from the seed examples)",
        description="Train a text classifier: text (+ optional context such as the district) -> label.",
    )
    train.add_argument("--data", help="CSV file (UTF-8, header row); omit to train the default seed model")
    train.add_argument("--text-column", default="text", help="column with the citizen's text (default: text)")
    train.add_argument("--label-column", help="column with what to predict (category, executor …)")
    train.add_argument("--context-column", help="column the bot knows besides the text, e.g. district")
    train.add_argument("--out", help="folder to write the model to (without --data: default is the bot's cache)")
    train.set_defaults(func=cmd_train)

    predict = subparsers.add_parser(
        "predict",
        help="label a CSV with a trained model: every input column plus predicted and confidence",
    )
    predict.add_argument("--model", required=True, help="folder (or file) written by `otklik train`")
    predict.add_argument("--data", required=True, help="CSV file to label")
    predict.add_argument("--text-column", default="text", help="column with the text (default: text)")
    predict.add_argument("--context-column", help="the same context column the model was trained with")
    predict.add_argument("--out", required=True, help="CSV file to write")
    predict.set_defaults(func=cmd_predict)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_train(args: argparse.Namespace) -> int:
    from routing.training import DataError, rebuild_default_model_cache, train_csv, train_default_model

    if args.data is None:
        if args.label_column or args.context_column:
            return _fail("--label-column/--context-column need --data (the CSV to learn from)")
        started = time.perf_counter()
        if args.out:
            model = train_default_model()
            out: Path | None = Path(args.out)
            try:
                model.save(args.out)
            except OSError as exc:
                return _fail(f"cannot write the model to {args.out}: {exc.strerror}")
        else:
            # Without --out: refresh the cache the bot reads its default model from.
            model, out = rebuild_default_model_cache()
        where = out if out is not None else "memory only (the cache folder is not writable)"
        print(f"default model: {len(model.classes)} categories from {model.metadata['trained_on']} seed examples "
              f"in {time.perf_counter() - started:.1f} s -> {where}")
        return 0
    if not args.label_column:
        return _fail("--label-column is required with --data")
    if not args.out:
        return _fail("--out is required with --data (the folder to write the model to)")
    try:
        report = train_csv(args.data, args.text_column, args.label_column, args.out, args.context_column)
    except DataError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write the model to {args.out}: {exc.strerror}")
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    context = f", context {args.context_column!r}" if args.context_column else ""
    print(f"trained on {report.rows_used} rows, {report.classes} labels{context}, "
          f"in {report.seconds:.1f} s -> {report.out_dir}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from routing.training import DataError, predict_csv

    model = Path(args.model)
    if not model.exists():
        return _fail(f"no model at {model} (train one with `otklik train … --out {model}`)")
    started = time.perf_counter()
    try:
        count = predict_csv(model, args.data, args.text_column, args.out, args.context_column)
    except DataError as exc:
        return _fail(str(exc))
    except FileNotFoundError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror}")
    print(f"predicted {count} rows in {time.perf_counter() - started:.1f} s -> {args.out}")
    return 0
