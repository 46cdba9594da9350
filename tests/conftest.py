"""Shared fixtures: paths to the real data in ../shared/data (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FASTBUILD_SHARED_DATA", REPO.parent / "shared" / "data"))
ATH = SHARED_DATA / "arabidopsis_chr1"
ATH_FASTA = ATH / "AthaTAIR10_chr1_GCF_000001735.4_TAIR10.1_genomic.fna.gz"
ATH_GTF = ATH / "AthaTAIR10_chr1.gtf.gz"
HUMAN = SHARED_DATA / "human_grch37"
HUMAN_FASTA = HUMAN / "hisat2_22_20-21M.fa"
HUMAN_TABLE = HUMAN / "grch37.txt"


def need(*paths: Path) -> None:
    """Skip the calling test, with a reason, when real data files are absent."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"real data not available (a user's clone without ../shared): {', '.join(missing)}")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep decompressed FASTAs and indexes out of the user's home during tests."""
    monkeypatch.setenv("FASTBUILD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "fastbuild-cache"))


@pytest.fixture(scope="session")
def ath_reference(tmp_path_factory):
    """Reference tables of the whole Arabidopsis chr1 (prepared once per session)."""
    need(ATH_FASTA, ATH_GTF)
    from fastbuild.prepare import PrepareConfig, prepare

    out = tmp_path_factory.mktemp("ath_reference")
    summary = prepare(PrepareConfig(fasta=str(ATH_FASTA), annotation=str(ATH_GTF), out=str(out)))
    return out, summary


ROW_KEY = ["gene_id", "transcript_id", "position"]


def read_rows(out):
    """The rows of a finished dataset folder, sorted by ROW_KEY (for comparing builds)."""
    import polars as pl

    return pl.read_parquet(str(Path(out) / "master" / "*.parquet")).sort(ROW_KEY, nulls_last=True)


@pytest.fixture(scope="session")
def demo_ann():
    """The embedded demo's annotation."""
    from fastbuild import demo
    from fastbuild.annotation import load_annotation

    return load_annotation(demo.demo_annotation())


@pytest.fixture(scope="session")
def fake_store(tmp_path_factory, demo_ann):
    """A synthetic score store (tests/fake_scores.py) of every demo gene; tests must not change it."""
    from tests.fake_scores import write_fake_store

    path = tmp_path_factory.mktemp("fake_scores")
    write_fake_store(path, demo_ann.genes, demo_ann.splice_sites)
    return str(path)
