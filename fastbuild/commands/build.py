"""``fastbuild build``: its options, and the call of :func:`fastbuild.build_dataset`."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from fastbuild.builder.config import KMER_LAYOUTS, POSITION_ID_MODES, BuildConfig, RunOptions
from fastbuild.commands.options import (
    add_execution_args,
    add_input_args,
    add_progress,
    add_selection_args,
    add_verbose,
    execution_action,
    executor_from_args,
    input_spec,
    selection_spec,
)
from fastbuild.errors import FastbuildError
from fastbuild.selection import POLICIES


def _kmer_sizes(values: list[str]) -> tuple[int, ...]:
    sizes = []
    for v in values:
        for part in re.split(r"[,\s]+", v.strip()):
            if not part:
                continue
            if not part.isdigit():
                raise FastbuildError(f"--kmer-sizes: {part!r} is not a whole number")
            sizes.append(int(part))
    if sizes == [0] or not sizes:
        return ()
    if 0 in sizes:
        raise FastbuildError("--kmer-sizes: 0 means 'no k-mers' and cannot be combined with other sizes")
    return tuple(sizes)


SPLIT_HELP = (
    "train/test split recorded in the split column, whole gene clusters (overlapping genes, either strand) "
    "kept together: 'none'; 'spliceai' (SpliceAI's chromosome split: test chr1,3,5,7,9, train the rest); "
    "'chrom:test=chr1,chr3;valid=chr2;train=rest' (contig lists); "
    "'region:test=CHROM:START-END;train=rest' (1-based inclusive regions); 'file:PATH' (table of gene_id, split)"
)


def _add_sampling_args(p) -> None:
    lab = p.add_argument_group("labels and downsampling")
    lab.add_argument("--threshold", type=float, default=0.5, help="probability at which the base model calls a site")
    lab.add_argument("--consensus-window", type=int, default=2,
                     help="a true site is TP if the model calls it within this many nt")
    lab.add_argument("--hard-prob", type=float, default=0.15,
                     help="keep true negatives with max(donor, acceptor) prob at least this")
    lab.add_argument("--window", type=int, default=75,
                     help="keep true negatives within this many nt of an annotated site")
    lab.add_argument("--easy-ratio", type=float, default=0.5,
                     help="then keep this many easy true negatives per non-TN row (seeded sample)")
    lab.add_argument("--easy-floor", type=int, default=25,
                     help="keep at least this many easy true negatives per gene (all when it has fewer), so genes "
                          "without any TP/FP/FN contribute rows too")
    lab.add_argument("--peak-prob", type=float, default=0.001,
                     help="also keep, as hard negatives, true negatives at local peaks of max(donor, acceptor) "
                          "scoring at least this (1 keeps none): the base model's sharp low-score calls")
    lab.add_argument("--peak-radius", type=int, default=10,
                     help="a local peak scores no less than every position within this many nt")
    lab.add_argument("--eval-mode", action="store_true",
                     help="evaluation / inference mode: keep every position (no downsampling; sample_weight 1); "
                          "recorded in build_info.json")
    lab.add_argument("--position-id-mode", choices=POSITION_ID_MODES, default="genomic",
                     help="genomic: one row per gene position; transcript/splice_aware: one row per "
                          "transcript x position, labelled by that transcript's sites")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "build", help="build the training dataset (no input flags: the embedded demo)",
        description="Select genes, label every position against the annotation and the base model's "
                    "scores (TP/FP/FN/TN), downsample easy true negatives, featurise the kept rows "
                    "(k-mers, score context, composition, gene features) and stream them into "
                    "Parquet batch files. Rerunning the same command resumes an interrupted build. "
                    "Without --fasta/--gtf/--reference it builds the embedded Arabidopsis demo.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_input_args(p)
    p.add_argument("--scores", help="score store of the base model (from fastbuild predict)")
    p.add_argument("--model", help="base model used to score genes the store lacks: "
                                   "'spliceai' or .h5/.pt weight files or a folder")
    p.add_argument("--output-dir", default="fastbuild_out",
                   help="dataset folder (batch files, master/, manifest, build_info.json)")
    add_selection_args(p, POLICIES, "error_total")

    _add_sampling_args(p)

    f = p.add_argument_group("features")
    f.add_argument("--kmer-sizes", nargs="+", default=["3"], help="k-mer sizes, space- or comma-separated; 0 for none")
    f.add_argument("--kmer-layout", choices=KMER_LAYOUTS, default="auto",
                   help="wide: one uint16 column per k-mer; sparse: list columns of ids and counts; "
                        "auto: wide for k <= 4")
    f.add_argument("--context-flank", nargs=2, type=int, default=[250, 249], metavar=("UP", "DOWN"),
                   help="k-mer/composition window: nt upstream and downstream of the position")
    f.add_argument("--sequence-flank", type=int, default=0, metavar="F",
                   help="add the bases at offsets -F..+F of each position as columns nt_uF..nt_0..nt_dF "
                        "(codes A=0 C=1 G=2 T=3 N=4, transcript orientation); 0: none")
    f.add_argument("--split", default="none", metavar="SPEC", help=SPLIT_HELP)

    r = p.add_argument_group("running")
    r.add_argument("--batch-size", type=int, default=1000, help="genes per batch file")
    r.add_argument("--batch-rows", type=int, default=20000,
                   help="rows per Arrow record batch / Parquet row group (at least 100): bounds the rows buffered in "
                        "memory; each row group also costs ~10 ms and ~230 KB of footer memory until its file "
                        "closes, so values far below the default slow the build without saving memory")
    r.add_argument("--overwrite", action="store_true", help="discard an existing build in --output-dir and start over")
    r.add_argument("--run-workflow", action="store_true",
                   help="score selected genes that lack scores with --model (implied when needed)")
    r.add_argument("--no-manifest", action="store_true", help="do not write gene_manifest.csv")
    add_progress(r)
    add_verbose(r)
    add_execution_args(p, "build")
    p.set_defaults(func=run_build)


def config_from_args(args) -> BuildConfig:
    """The :class:`BuildConfig` of parsed ``fastbuild build`` arguments."""
    return BuildConfig(
        inputs=input_spec(args), selection=selection_spec(args), scores=args.scores, model=args.model,
        batch_size=args.batch_size, batch_rows=args.batch_rows, kmer_sizes=_kmer_sizes(args.kmer_sizes),
        kmer_layout=args.kmer_layout, hard_prob=args.hard_prob, window=args.window, easy_ratio=args.easy_ratio,
        easy_floor=args.easy_floor, peak_prob=args.peak_prob, peak_radius=args.peak_radius, eval_mode=args.eval_mode,
        sequence_flank=args.sequence_flank, split=args.split,
        threshold=args.threshold, consensus_window=args.consensus_window, context_flank=tuple(args.context_flank),
        position_id_mode=args.position_id_mode, run_workflow=args.run_workflow,
        run=RunOptions(output_dir=args.output_dir, jobs=args.jobs, progress=args.progress, verbose=args.verbose,
                       overwrite=args.overwrite, no_manifest=args.no_manifest),
    )


def run_build(args) -> int:
    from fastbuild.builder.engine import build_dataset
    from fastbuild.builder.report import summary_lines

    config = config_from_args(args)
    if config.run_workflow and not config.model:
        raise FastbuildError("--run-workflow needs --model (the base model that scores the genes)")
    action = execution_action(args)
    executor = None
    if action == "run" and config.run.output_dir is not None:
        executor = executor_from_args(args, guard_dir=Path(config.run.output_dir).absolute())
    result = build_dataset(config, executor=executor, action=action, unit=args.unit)
    if action == "plan":
        print(f"plan: {result.info['units']} units ({result.info['genes']} genes) in {result.info['plan']}; "
              f"run each with --unit J (J = 1..{result.info['units']}), then --finalise")
    elif action == "unit":
        i = result.info
        state = "already finished" if i["already_finished"] else "done"
        print(f"unit {i['unit']} of {i['units']} {state}: {i['genes']} genes, {i['rows']:,} rows in {i['file']}")
    else:
        print(summary_lines(result.info, result.output_dir))
    return 0
