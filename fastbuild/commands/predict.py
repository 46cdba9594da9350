"""``fastbuild predict``: score selected genes with a base model into a score store."""

from __future__ import annotations

import argparse
import json

from fastbuild.basemodel.backends import BACKENDS, DEFAULT_BACKEND
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
from fastbuild.selection import SCORELESS_POLICIES


def add_parser(sub) -> None:
    p = sub.add_parser(
        "predict", help="score genes with SpliceAI / OpenSpliceAI weights into a score store",
        description="Score every nucleotide of the selected genes on their own strand with a "
                    "SpliceAI-architecture ensemble (full flanking context, N past contig ends), "
                    "average the ensemble and write a chunked, resumable score store. Runs the "
                    "published weights in numpy: no TensorFlow, no PyTorch.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_input_args(p)
    p.add_argument("--model", required=True,
                   help="'spliceai' (weights of the optional extra fastbuild-splice[spliceai]) or SpliceAI .h5 / "
                        "OpenSpliceAI .pt files, or a folder of them (an ensemble is averaged)")
    p.add_argument("--scores", required=True, help="score store folder to create or extend")
    add_selection_args(p, SCORELESS_POLICIES, "all")
    p.add_argument("--overwrite", action="store_true", help="replace a store written by a different model")
    p.add_argument("--threads", type=int, default=None, help="threads for the matrix products (default: all cores)")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND,
                   help="engine of the forward pass, all exact in float32: 'auto' runs the measured default, "
                        "numpy (numpy/numba direct convolutions, always installed); openvino (extra "
                        "fastbuild-splice[openvino]) and onnx (onnxruntime, extra fastbuild-splice[onnx]) "
                        "are optional engines; see the README's engine table")
    p.add_argument("--precision", choices=("float32", "bf16"), default="float32",
                   help="arithmetic of the forward pass: float32 (exact, every engine) or bf16 (opt-in: the openvino "
                        "engine on CPUs with AVX-512 BF16 or AMX; faster but not exact, see the README's study); "
                        "a store holds one precision only")
    p.add_argument("--mantissa-bits", type=int, default=23,
                   help="float32 mantissa bits kept in the store (23 exact; 10 ~ float16 precision, smaller files)")
    add_progress(p)
    add_verbose(p)
    add_execution_args(p, "scoring")
    p.add_argument("--dask-resources", metavar="NAME=N", nargs="+", default=[],
                   help="Dask worker resources each scoring unit asks for, e.g. GPU=1 (only workers started "
                        "with --resources GPU=1 take them; never needed)")
    p.set_defaults(func=run_predict)


def run_predict(args) -> int:
    import polars as pl

    from fastbuild.basemodel import load_model, score_genes
    from fastbuild.genome import Genome
    from fastbuild.reference import load_reference, resolve_inputs
    from fastbuild.selection import choose_genes

    if not 0 <= args.mantissa_bits <= 23:
        raise FastbuildError(f"--mantissa-bits must be within 0..23, got {args.mantissa_bits}")
    spec, selection = input_spec(args), selection_spec(args)
    inputs = resolve_inputs(spec, args.scores, args.model)
    model = load_model(args.model)
    with Genome(inputs.fasta) as genome:
        ann = load_reference(inputs, spec, genome)
        sel = choose_genes(selection, ann.genes, ann.genes["gene_id"].to_list())
        genes = ann.genes.filter(pl.col("gene_id").is_in(sel.gene_ids))
        action = execution_action(args)
        executor = executor_from_args(args) if action == "run" else None
        source = args.model if executor is not None and getattr(executor, "jobs", 2) > 1 else model
        summary = score_genes(genome, genes, source, args.scores, progress=args.progress,
                              overwrite=args.overwrite, threads=args.threads, mantissa_bits=args.mantissa_bits,
                              backend=args.backend, executor=executor, action=action, unit=args.unit,
                              resources=_resources(args.dask_resources), precision=args.precision)
    if action == "plan":
        print(f"plan: {summary['units']} units ({summary['genes']} genes to score) in {summary['plan']}; "
              f"run each with --unit J (J = 1..{summary['units']}), then --finalise")
        return 0
    print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, (dict, list))}, indent=1))
    return 0


def _resources(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise FastbuildError(f"--dask-resources: {item!r} is not NAME=NUMBER (e.g. GPU=1)")
    return out
