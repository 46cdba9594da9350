"""fastbuild tracks: a score store, a dataset and predictions out as bigWig / BED9 (issue 24, item 1).

Independence: every bigWig written is read back here with pybigtools' own reader (not through
fastbuild.tracks) and compared with the source, value for value, bit for bit (float32).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import polars as pl
import pytest

from fastbuild import demo
from fastbuild.basemodel.store import ScoreStore
from fastbuild.cli import main
from tests.conftest import read_rows

bt = pytest.importorskip("pybigtools", reason="the tracks extra (pybigtools) is not installed")

CONTIG, LENGTH = "NC_003070.9", 700_000


def _values(path, chrom, start, end) -> np.ndarray:
    """bigWig values of 1-based bases start..end, read with pybigtools directly (NaN: no data)."""
    with bt.open(str(path)) as r:
        return np.asarray(r.values(chrom, start - 1, end, fillna=None), dtype=np.float64)


@pytest.fixture(scope="module")
def store_frame():
    store = ScoreStore(demo.demo_scores())
    return store.load().join(store.index().select("gene_id", "chrom", "strand", "start", "end"), on="gene_id")


@pytest.fixture(scope="module")
def split_tracks(tmp_path_factory):
    out = tmp_path_factory.mktemp("tracks") / "split"
    assert main(["tracks", "--scores", str(demo.demo_scores()), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def collapsed_tracks(tmp_path_factory):
    out = tmp_path_factory.mktemp("tracks") / "collapsed"
    assert main(["tracks", "--scores", str(demo.demo_scores()), "--out", str(out), "--strands", "collapse"]) == 0
    return out


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "out"
    assert main(["build", "--output-dir", str(out), "--n-genes", "40", "--no-progress"]) == 0
    return out


def test_store_bigwigs_match_the_store_bit_for_bit(split_tracks, store_frame):
    files = {"+": "plus", "-": "minus"}
    for strand, name in files.items():
        genes = store_frame.filter(pl.col("strand") == strand)
        for score in ("donor", "acceptor", "neither"):
            path = split_tracks / f"{score}.{name}.bw"
            with bt.open(str(path)) as r:
                assert r.is_bigwig and r.chroms() == {CONTIG: LENGTH}  # contigs and lengths of the FASTA
            for (gene_id,), g in genes.group_by(["gene_id"]):
                got = _values(path, CONTIG, int(g["start"].min()), int(g["end"].max()))
                want = g[score].to_numpy()
                assert np.array_equal(got.astype(np.float32), want), (path.name, gene_id)
                assert np.array_equal(got, want.astype(np.float64))  # float32 kept exactly, no rounding


def test_coordinates_are_zero_based_half_open(split_tracks, store_frame):
    """The first scored base of the + strand, 1-based p, is the interval [p - 1, ...) of the bigWig."""
    first = int(store_frame.filter(pl.col("strand") == "+")["position"].min())
    with bt.open(str(split_tracks / "donor.plus.bw")) as r:
        start, _, value = next(iter(r.records(CONTIG)))
    assert start == first - 1
    row = store_frame.filter((pl.col("strand") == "+") & (pl.col("position") == first))
    assert np.float32(value) == row["donor"][0]
    before = _values(split_tracks / "donor.plus.bw", CONTIG, 1, first - 1)
    assert np.isnan(before).all()  # no data outside genes, not zeros


def test_collapsed_is_max_over_strands_min_for_neither(split_tracks, collapsed_tracks):
    for score, pick in (("donor", np.fmax), ("acceptor", np.fmax), ("neither", np.fmin)):
        plus = _values(split_tracks / f"{score}.plus.bw", CONTIG, 1, LENGTH)
        minus = _values(split_tracks / f"{score}.minus.bw", CONTIG, 1, LENGTH)
        both = _values(collapsed_tracks / f"{score}.bw", CONTIG, 1, LENGTH)
        assert np.array_equal(both, pick(plus, minus), equal_nan=True), score
        assert (~np.isnan(plus) & ~np.isnan(minus)).sum() > 1000  # the demo has genes on both strands at once


def test_manifest_and_igv_session(split_tracks):
    manifest = json.loads((split_tracks / "tracks.json").read_text())
    assert manifest["strands"] == "split" and manifest["genome"]["contigs"] == {CONTIG: LENGTH}
    assert manifest["source"]["model"] == "openspliceai-arabidopsis-10000nt"
    assert sorted(f["file"] for f in manifest["files"]) == sorted(
        f"{s}.{n}.bw" for s in ("donor", "acceptor", "neither") for n in ("plus", "minus"))
    assert all(f["conflicts"] == 0 for f in manifest["files"])  # same-strand genes agree base for base
    from fastbuild.files import sha256_file

    assert all(sha256_file(split_tracks / f["file"]) == f["sha256"] for f in manifest["files"])
    session = ET.parse(split_tracks / "igv_session.xml").getroot()
    assert session.tag == "Session" and session.get("genome").endswith("demo.fa")
    assert [r.get("path") for r in session.iter("Resource")] == [f["file"] for f in manifest["files"]]
    assert not list(split_tracks.glob("*.tmp*"))


def test_dataset_sites_bed9(small_build, tmp_path):
    out = tmp_path / "sites"
    assert main(["tracks", "--dataset", str(small_build), "--out", str(out)]) == 0
    lines = (out / "sites.bed").read_text().splitlines()
    assert lines[0].startswith("track ") and 'itemRgb="On"' in lines[0]
    bed = pl.DataFrame([line.split("\t") for line in lines[1:]], orient="row",
                       schema=["chrom", "start", "end", "name", "score", "strand", "thickStart", "thickEnd", "rgb"])
    rows = read_rows(small_build).filter(pl.col("pred_type") != "TN")
    assert bed.height == rows.height  # genomic mode: one row per site
    assert (bed["chrom"] == CONTIG).all()
    assert (bed["end"].cast(pl.Int64) - bed["start"].cast(pl.Int64) == 1).all()
    colours = {"TP": "0,150,0", "FP": "220,0,0", "FN": "0,0,220"}
    assert all(colours[n[:2]] == c for n, c in zip(bed["name"], bed["rgb"], strict=True))
    joined = bed.select(pl.col("start").cast(pl.Int64) + 1, "strand", "name").rename({"start": "position"}).join(
        rows.select("position", "strand", "pred_type", "splice_type"), on=["position", "strand"])
    assert joined.height == bed.height
    tp_fn = joined.filter(pl.col("pred_type") != "FP")
    assert (tp_fn["name"] == tp_fn["pred_type"] + "_" + tp_fn["splice_type"]).all()
    starts = bed["start"].cast(pl.Int64)
    assert (starts.diff().drop_nulls() >= 0).all()  # sorted


def test_dataset_column_bigwig_reads_back(small_build, tmp_path):
    out = tmp_path / "cols"
    assert main(["tracks", "--dataset", str(small_build), "--column", "donor_score", "--out", str(out)]) == 0
    rows = read_rows(small_build)
    for strand, name in (("+", "plus"), ("-", "minus")):
        part = rows.filter(pl.col("strand") == strand).unique("position")
        lo, hi = int(part["position"].min()), int(part["position"].max())
        got = _values(out / f"donor_score.{name}.bw", CONTIG, lo, hi)
        pos = part["position"].to_numpy()
        assert np.array_equal(got[pos - lo].astype(np.float32), part["donor_score"].to_numpy())
        assert np.isnan(got).sum() == got.size - np.unique(pos).size  # only the dataset's rows have values


def test_predictions_bigwigs(small_build, tmp_path):
    rows = read_rows(small_build)
    rng = np.random.default_rng(7)
    pred = rows.select("gene_id", "position").with_columns(
        p_donor=pl.Series(rng.random(rows.height, dtype=np.float32)),
        p_acceptor=pl.Series(rng.random(rows.height, dtype=np.float32)))
    pred.write_parquet(tmp_path / "pred.parquet")
    out = tmp_path / "pred"
    assert main(["tracks", "--predictions", str(tmp_path / "pred.parquet"), "--dataset", str(small_build),
                 "--out", str(out)]) == 0
    placed = pred.join(rows.select("gene_id", "position", "strand"), on=["gene_id", "position"])
    for strand, name in (("+", "plus"), ("-", "minus")):
        part = placed.filter(pl.col("strand") == strand)
        lo = int(part["position"].min())
        got = _values(out / f"p_acceptor.{name}.bw", CONTIG, lo, int(part["position"].max()))
        assert np.array_equal(got[part["position"].to_numpy() - lo].astype(np.float32), part["p_acceptor"].to_numpy())


def test_runs_merge_equal_neighbours_and_convert_coordinates():
    from fastbuild.tracks.bigwig import runs_of

    runs = runs_of(np.array([5, 6, 7, 9, 10]), np.array([0.5, 0.5, 0.25, 0.25, np.nan], np.float32))
    assert runs.starts.tolist() == [4, 6, 8] and runs.ends.tolist() == [6, 7, 9]
    assert runs.values.tolist() == [0.5, 0.25, 0.25]
