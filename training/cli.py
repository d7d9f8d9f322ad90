"""`python -m training {train,export,evaluate,baseline,...}`: the offline half's command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from model.bundle import BundleError, load_bundle
from training.config import ConfigError, build_config, help_lines
from training.data import DataError, ReadOptions

log = logging.getLogger("training")

TRAIN_EPILOG = """\
Every option below can be set in the TOML file given by --config, in the section it is listed
under (the run's identity at the top; a key in another section is refused), and overridden by
--key value on the command line (later wins). Lists take commas or JSON:
--train-files imdb/train.tsv.gz,sst2/glue_train.tsv.gz

""" + "\n".join(help_lines())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Train an LSTM sentiment classifier, export it as a verified ONNX model "
        "bundle, and evaluate bundles on labelled files.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train",
        help="train a model (checkpoints, logs and plots go to --out-dir)",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--config", help="TOML file of options (see below)")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from <out-dir>/last.pt after an interruption",
    )
    export = commands.add_parser("export", help="export a run's best checkpoint as a model bundle")
    export.add_argument("--run", required=True, type=Path, help="run folder (the train --out-dir)")
    export.add_argument("--out", required=True, type=Path, help="bundle folder to write")
    export.add_argument("--no-quantize", action="store_true", help="skip the int8 variant")
    export.add_argument(
        "--card-config",
        help="TOML whose release_notes and known_limits replace the run's (documentation only)",
    )
    export.add_argument(
        "--export-config",
        help="TOML whose version, release notes, known limits and [export] section replace the "
        "run's: a new release of the same weights (e.g. with an int8 variant)",
    )
    lengths = commands.add_parser(
        "cascade-lengths",
        help="choose a bundle's cascade length rule again from its own graphs (no checkpoint)",
    )
    add_bundle_and_config(lengths, "the TOML it was trained with (data, version, notes)")
    baseline = commands.add_parser(
        "baseline",
        help="measure a bundle's drift baseline on its validation rows into its manifest",
    )
    add_bundle_and_config(baseline, "the TOML it was trained with (its validation rows)")
    baseline.add_argument(
        "--max-rows", type=int, default=0, help="at most this many rows per file (default: all)"
    )
    from training.teacher import cli as teacher_cli

    teacher_cli.add_arguments(
        commands.add_parser(
            "teacher", help="fine-tune, export and evaluate the transformer teacher (resumable)"
        )
    )
    _evaluate_arguments(
        commands.add_parser(
            "evaluate", help="accuracy, macro-F1, confusion matrix and calibration of a bundle"
        )
    )
    return parser


def add_bundle_and_config(command: argparse.ArgumentParser, config_help: str) -> None:
    """--bundle and --config: the commands that work on a finished bundle and its recipe."""
    command.add_argument("--bundle", required=True, type=Path, help="model bundle folder")
    command.add_argument("--config", required=True, help=config_help)


def _evaluate_arguments(evaluate: argparse.ArgumentParser) -> None:
    evaluate.add_argument("--bundle", required=True, type=Path, help="model bundle folder")
    evaluate.add_argument(
        "--data",
        required=True,
        type=Path,
        action="append",
        help="labelled file (TSV/CSV/JSONL, .gz allowed); repeat for more",
    )
    evaluate.add_argument("--variant", help="fp32 or int8 (default: the bundle's default)")
    evaluate.add_argument(
        "--out",
        type=Path,
        default=Path("reports"),
        help="folder for metrics JSON and PNG plots (default: reports)",
    )
    evaluate.add_argument("--run", type=Path, help="also plot learning curves of this run folder")
    evaluate.add_argument(
        "--record",
        action="store_true",
        help="store the metrics in the bundle's manifest and model card",
    )
    evaluate.add_argument(
        "--file-labels",
        default="",
        help="label name of each raw value 0, 1, ... in the file, comma-separated (default: "
        "the bundle's labels); e.g. negative,positive for a binary set and a three-label model",
    )
    evaluate.add_argument("--text-column", default="", help="text column (default: detect)")
    evaluate.add_argument("--label-column", default="", help="label column (default: detect)")
    evaluate.add_argument(
        "--empty-text",
        choices=("error", "skip"),
        default="error",
        help="what to do with rows whose text is empty (default: error)",
    )


def _flags(extra: list[str]) -> dict[str, str]:
    """['--epochs', '3', '--lowercase=false'] -> {'epochs': '3', 'lowercase': 'false'}."""
    flags: dict[str, str] = {}
    items = iter(extra)
    for item in items:
        if not item.startswith("--"):
            raise ConfigError(f"expected --key value, got {item!r}")
        key, sep, value = item[2:].partition("=")
        if not sep:
            value = next(items, None)
            if value is None:
                raise ConfigError(f"--{key} needs a value")
        flags[key] = value
    return flags


def _train(args: argparse.Namespace, extra: list[str]) -> None:
    from training.train import train

    config = build_config(args.config, _flags(extra))
    train(config, resume=args.resume)


def _export(args: argparse.Namespace) -> None:
    from training.package import export_bundle

    quantize = False if args.no_quantize else None
    export_bundle(
        args.run,
        args.out,
        quantize=quantize,
        card_config=args.card_config,
        export_config=args.export_config,
    )


def _cascade_lengths(args: argparse.Namespace) -> None:
    from training.recascade import refit_length_rule

    print(refit_length_rule(args.bundle, build_config(args.config, {})))


def _baseline(args: argparse.Namespace) -> None:
    from training.baseline import write_baseline

    baseline = write_baseline(args.bundle, build_config(args.config, {}), args.max_rows)
    summary = {k: baseline[k] for k in ("rows", "label_shares", "mean_confidence")}
    print(f"{args.bundle}: baseline written: {summary}")


def _evaluate(args: argparse.Namespace) -> None:
    from training.evaluate import evaluate_file, plot_run, record_metrics
    from training.onnx_classifier import OnnxClassifier

    bundle = load_bundle(args.bundle)
    variant = args.variant or bundle.manifest.default_variant
    classifier = OnnxClassifier(bundle, variant)
    options = ReadOptions(
        labels=tuple(bundle.manifest.labels),
        file_labels=tuple(n for n in args.file_labels.split(",") if n),
        text_column=args.text_column,
        label_column=args.label_column,
        empty_text=args.empty_text,
    )
    for path in args.data:
        metrics = evaluate_file(classifier, bundle, path, options, args.out, variant)
        print(
            f"{path}: n={metrics['n']} accuracy={metrics['accuracy']:.4f} "
            f"macro_f1={metrics['macro_f1']:.4f} ece={metrics['ece']:.4f}"
        )
        if args.record:
            from training.config import DataFile

            record_metrics(bundle, variant, DataFile(str(path)).name, metrics)
    if args.run:
        print(f"learning curves: {plot_run(args.run, args.out)}")
    print(f"reports in {args.out}")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    try:
        if args.command == "train":
            _train(args, extra)
        elif args.command == "export":
            _export(args)
        elif args.command == "cascade-lengths":
            _cascade_lengths(args)
        elif args.command == "baseline":
            _baseline(args)
        elif args.command == "teacher":
            from training.teacher import cli as teacher_cli

            teacher_cli.run(args)
        else:
            _evaluate(args)
    except (ConfigError, DataError, BundleError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
