"""Real weights on real genomes: top-k accuracy of the scores written to a score store."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from bm_helpers import OSAI, SHARED_DATA

pytestmark = [pytest.mark.realdata, pytest.mark.slow]  # minutes each: run by .ci/run after the default suite

HUMAN_FASTA = SHARED_DATA / "human_grch37" / "hisat2_22_20-21M.fa"
HUMAN_TABLE = SHARED_DATA / "human_grch37" / "grch37.txt"
ATH_DIR = SHARED_DATA / "arabidopsis_chr1"
ATH_FASTA = ATH_DIR / "AthaTAIR10_chr1_GCF_000001735.4_TAIR10.1_genomic.fna.gz"
ATH_GTF = ATH_DIR / "AthaTAIR10_chr1.gtf.gz"


def _need(*paths):
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"real data not available: {', '.join(missing)}")


def topk_accuracy(scores: pl.DataFrame, sites: pl.DataFrame, site_type: str) -> tuple[float, int]:
    """Pooled top-k: of the k best-scoring positions (k = number of true sites), the share that
    are true sites. ``scores``: gene_id, position, donor, acceptor; ``sites``: position, strand,
    site_type, gene_id."""
    true = sites.filter(pl.col("site_type") == site_type).select("gene_id", "position").unique()
    true = true.join(scores.select("gene_id", "position"), on=["gene_id", "position"], how="semi")
    lab = scores.select("gene_id", "position", pl.col(site_type).alias("s")).join(
        true.with_columns(pl.lit(True).alias("y")), on=["gene_id", "position"], how="left"
    )
    k = true.height
    y = lab["y"].fill_null(False).to_numpy()
    s = lab["s"].to_numpy()
    top = np.argsort(-s, kind="stable")[:k]
    return float(y[top].mean()), k


def _score(genome_path, genes, model, tmp_path):
    from fastbuild.basemodel import ScoreStore, score_genes
    from fastbuild.genome import Genome

    with Genome(genome_path) as genome:
        summary = score_genes(genome, genes, model, tmp_path / "store", progress=False)
    store = ScoreStore(tmp_path / "store")
    assert sorted(store.genes()) == sorted(genes["gene_id"].to_list())
    assert store.model_identity["digest"] == model.spec.digest
    return store.load(genes["gene_id"].to_list()), summary


def test_spliceai_on_human_grch37_slice(tmp_path):
    _need(HUMAN_FASTA, HUMAN_TABLE)
    from fastbuild.annotation import load_annotation
    from fastbuild.basemodel import load_spliceai
    from fastbuild.errors import FastbuildError

    try:
        model = load_spliceai()
    except FastbuildError as exc:
        pytest.skip(f"SpliceAI weights not installed ({exc})")
    ann = load_annotation(HUMAN_TABLE)
    genes = ann.genes.filter(
        (pl.col("chrom") == "22") & (pl.col("start") >= 20_000_001) & (pl.col("end") <= 21_000_000)
    )
    sites = ann.splice_sites.filter(pl.col("gene_id").is_in(genes["gene_id"].implode()))
    assert genes.height >= 15 and sites.height >= 250
    scores, summary = _score(HUMAN_FASTA, genes, model, tmp_path)
    assert scores.height == int((genes["end"] - genes["start"] + 1).sum())
    acc_d, kd = topk_accuracy(scores, sites, "donor")
    acc_a, ka = topk_accuracy(scores, sites, "acceptor")
    print(
        f"SpliceAI GRCh37 slice: {genes.height} genes, top-k donor {acc_d:.3f} (k={kd}), "
        f"acceptor {acc_a:.3f} (k={ka}); {summary['nt_per_s']:.0f} nt/s"
    )
    assert acc_d >= 0.80 and acc_a >= 0.80


def test_openspliceai_arabidopsis_10000nt(tmp_path):
    folder = OSAI / "arabidopsis" / "10000nt"
    _need(ATH_FASTA, ATH_GTF, folder)
    from fastbuild.annotation import load_annotation
    from fastbuild.basemodel import load_openspliceai

    model = load_openspliceai(folder)
    assert model.spec.flank == 5000 and len(model.networks) == 5
    ann = load_annotation(ATH_GTF)
    genes = ann.genes.filter(
        (pl.col("gene_type") == "protein_coding")
        & (pl.col("n_splice_sites") > 0)
        & (pl.col("start") >= 10_000_000)
        & (pl.col("end") <= 10_600_000)
    )
    sites = ann.splice_sites.filter(pl.col("gene_id").is_in(genes["gene_id"].implode()))
    assert genes.height >= 100
    scores, summary = _score(ATH_FASTA, genes, model, tmp_path)
    acc_d, kd = topk_accuracy(scores, sites, "donor")
    acc_a, ka = topk_accuracy(scores, sites, "acceptor")
    print(
        f"OpenSpliceAI Arabidopsis: {genes.height} genes, top-k donor {acc_d:.3f} (k={kd}), "
        f"acceptor {acc_a:.3f} (k={ka}); {summary['nt_per_s']:.0f} nt/s"
    )
    assert acc_d >= 0.90 and acc_a >= 0.90
