"""`otklik train` and `otklik predict`: a router learned from a region's own exported history.

    otklik train --data FILE.csv --text-column COL --label-column COL [--context-column COL] --out DIR
    otklik train [--out DIR]          # no --data: the default model from the shipped seed examples
    otklik train [--data …] --include-corrections --out DIR   # plus the operators' corrections
    otklik predict --model DIR --data FILE.csv --text-column COL [--context-column COL] --out PRED.csv

Exit codes: 0 done, 2 bad input (a missing file or column, a malformed CSV), named in the message.
Heavy libraries are imported inside the handlers so `otklik --help` stays instant.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routing.corrections import Correction, Example

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
    train.add_argument("--include-corrections", action="store_true",
                       help="add the operators' choices in the triage chat, from the bot's database "
                            "($OTKLIK_DATABASE_URL), as labelled examples (needs --out)")
    train.add_argument("--config", help="with --include-corrections: the config whose routing table tells "
                                        "what an operator's choice means (default: ./config.yaml or $OTKLIK_CONFIG)")
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

    if args.include_corrections:
        return _train_with_corrections(args)
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


class _Refused(Exception):
    """A reason to stop with exit code 2, worded for the person who runs the command."""


def _train_with_corrections(args: argparse.Namespace) -> int:
    """Seed examples (or the CSV) plus the operators' corrections, trained into --out."""
    from routing.training import DataError, add_corrections, read_table, seed_table, train_from_table

    if not args.out:
        return _fail("--include-corrections needs --out (the folder to write the model to); then name that "
                     "folder in config.yaml as classifier.model_path")
    if args.data is not None and not args.label_column:
        return _fail("--label-column is required with --data")
    if args.data is None and (args.label_column or args.context_column):
        return _fail("--label-column/--context-column need --data (the CSV to learn from)")
    try:
        examples, place_names = _correction_examples(args)
        if args.data is None:
            table, text_column, label_column, context_column = seed_table(), "text", "category", None
        else:
            table = read_table(args.data, [args.text_column, args.label_column, args.context_column])
            text_column, label_column, context_column = args.text_column, args.label_column, args.context_column
        added = add_corrections(table, examples, text_column, label_column, context_column, place_names)
        model, report = train_from_table(table, text_column, label_column, context_column)
    except _Refused as exc:
        return _fail(str(exc))
    except DataError as exc:
        return _fail(str(exc))
    if added.unknown_label:
        print(f"note: {added.unknown_label} corrections left out: neither their category nor their account "
              f"is a label of the {label_column!r} column", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    source = Path(args.data).name if args.data is not None else "seed examples"
    model.metadata["source"] = f"{source} + {added.added} operators' corrections"
    try:
        out = model.save(args.out)
    except OSError as exc:
        return _fail(f"cannot write the model to {args.out}: {exc.strerror}")
    labels = ", ".join(f"{label} {n}" for label, n in sorted(added.by_label.items(), key=lambda kv: (-kv[1], kv[0])))
    print(f"added {added.added} corrections as examples" + (f" ({labels})" if labels else ""))
    print(f"trained on {report.rows_used} rows ({source} + {added.added} corrections), {report.classes} labels, "
          f"in {report.seconds:.1f} s -> {out}")
    return 0


def _correction_examples(args: argparse.Namespace) -> tuple[list[Example], dict[str, tuple[str, ...]]]:
    """The operators' corrections in the bot's database, labelled through the config's routing table."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.config import ConfigError, Environment, load_config
    from routing.corrections import label_corrections, load_corrections
    from routing.table import RoutingTable
    from storage.db import Database

    config_path = Path(args.config or os.environ.get("OTKLIK_CONFIG") or "config.yaml")
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise _Refused(f"config: {exc}") from None
    url = Environment.from_env().database_url
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise _Refused(f"no database at {shown}: set OTKLIK_DATABASE_URL to the bot's database")

    async def load() -> list[Correction]:
        db = Database(url)
        try:
            return await load_corrections(db)
        finally:
            await db.dispose()

    try:
        corrections = asyncio.run(load())
    except (SQLAlchemyError, OSError) as exc:
        raise _Refused(f"cannot read the corrections from {shown} ({type(exc).__name__}); "
                       "is it the bot's database?") from None
    examples, unclear = label_corrections(corrections, RoutingTable(config), [c.code for c in config.categories],
                                          [m.code for m in config.municipalities])
    print(f"corrections: {len(corrections)} appeals routed by operators in {shown}; {len(examples)} tell the "
          f"category, {len(unclear)} do not (the account chosen takes several categories)")
    place_names = {m.code: (m.name, m.short_name) for m in config.municipalities}
    return examples, place_names


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
