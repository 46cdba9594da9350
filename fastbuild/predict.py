"""``fastbuild predict``: score selected genes with a base model into a score store."""

from __future__ import annotations

import argparse
import json

from fastbuild.builder.cli import add_input_args, add_selection_args
from fastbuild.builder.config import BuildConfig
from fastbuild.errors import FastbuildError

PREDICT_POLICIES = ("all", "random", "custom")


def add_predict(sub) -> None:
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
    add_selection_args(p, PREDICT_POLICIES, "all")
    p.add_argument("--overwrite", action="store_true", help="replace a store written by a different model")
    p.add_argument("--threads", type=int, default=None, help="threads for the matrix products (default: all cores)")
    p.add_argument("--backend", choices=["numpy", "onnx"], default="numpy",
                   help="numpy/numba forward pass (exact, always available) or onnxruntime (extra fastbuild-splice[onnx], ~1.3x faster)")
    p.add_argument("--mantissa-bits", type=int, default=23,
                   help="float32 mantissa bits kept in the store (23 exact; 10 ~ float16 precision, smaller files)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show progress on standard error")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-v info, -vv debug)")
    p.set_defaults(func=run_predict)


def run_predict(args) -> int:
    import polars as pl

    from fastbuild.basemodel import load_model, score_genes
    from fastbuild.builder.runner import load_reference, resolve_inputs
    from fastbuild.builder.selection import read_gene_ids, select_genes
    from fastbuild.genome import Genome

    if not 0 <= args.mantissa_bits <= 23:
        raise FastbuildError(f"--mantissa-bits must be within 0..23, got {args.mantissa_bits}")
    config = BuildConfig(
        fasta=args.fasta, annotation=args.annotation, reference=args.reference, scores=args.scores,
        model=args.model, chrom_alias=args.chrom_alias, annotation_format=args.annotation_format,
        n_genes=args.n_genes, subset_policy=args.subset_policy, gene_types=tuple(args.gene_types),
        gene_ids_file=args.gene_ids_file, gene_col=args.gene_col, seed=args.seed,
    )
    inputs = resolve_inputs(config)
    model = load_model(args.model)
    with Genome(inputs.fasta) as genome:
        ann = load_reference(inputs, config, genome)
        extras = read_gene_ids(config.gene_ids_file, config.gene_col) if config.gene_ids_file else []
        sel = select_genes(ann.genes, ann.genes["gene_id"].to_list(), config.subset_policy, config.n_genes,
                           config.seed, config.gene_types, extras)
        if not sel.gene_ids:
            raise FastbuildError("no genes selected; check --gene-types and --gene-ids-file")
        genes = ann.genes.filter(pl.col("gene_id").is_in(sel.gene_ids))
        summary = score_genes(genome, genes, model, args.scores, progress=args.progress,
                              overwrite=args.overwrite, threads=args.threads, mantissa_bits=args.mantissa_bits,
                              backend=args.backend)
    print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, (dict, list))}, indent=1))
    return 0
