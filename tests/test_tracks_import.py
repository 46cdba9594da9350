"""fastbuild import: bring your own scores (issue 24, item 3).

Round trip: the demo store -> bigWigs (fastbuild tracks) -> a store again (fastbuild import) ->
fastbuild build gives the very rows of a build on the original store. Tables (TSV, Parquet) go
the same way; genes a source does not score completely are left out and counted.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from fastbuild import demo
from fastbuild.basemodel.store import ScoreStore
from fastbuild.cli import main
from fastbuild.files import sha256_file
from tests.conftest import read_rows

BUILD = ["--n-genes", "60", "--no-progress", "--kmer-sizes", "3"]


def _store_frame(path) -> pl.DataFrame:
    store = ScoreStore(path)
    return store.load().join(store.index().select("gene_id", "chrom", "strand"), on="gene_id").sort(
        "gene_id", "position")


def _table(frame: pl.DataFrame) -> pl.DataFrame:
    """The store's scores as an import table: one row per base and strand (overlapping genes agree)."""
    return frame.select("chrom", "position", "strand", "donor", "acceptor").unique(
        ["chrom", "strand", "position"], keep="first").sort("chrom", "strand", "position")


@pytest.fixture(scope="module")
def original():
    return _store_frame(demo.demo_scores())


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    pytest.importorskip("pybigtools", reason="the tracks extra (pybigtools) is not installed")
    base = tmp_path_factory.mktemp("round_trip")
    assert main(["tracks", "--scores", str(demo.demo_scores()), "--out", str(base / "tracks")]) == 0
    assert main(["import", "--tracks", str(base / "tracks"), "--scores", str(base / "store")]) == 0
    return base


def test_round_trip_store_is_identical(round_trip, original):
    assert _store_frame(round_trip / "store").equals(original)  # every float32 bit, every gene


def test_round_trip_store_records_external_model(round_trip):
    meta = json.loads((round_trip / "store" / "store.json").read_text())
    model = meta["model"]
    assert model["name"] == "external" and model["family"] == "external" and meta["precision"] == "float32"
    assert {f["role"] for f in model["files"]} == {f"{k}{s}" for k in ("donor", "acceptor", "neither") for s in "+-"}
    for f in model["files"]:
        assert f["sha256"] == sha256_file(round_trip / "tracks" / f["name"])
    assert not list(round_trip.glob("*.tmp"))


def test_round_trip_builds_identical_datasets(round_trip):
    a, b = round_trip / "build_original", round_trip / "build_imported"
    assert main(["build", "--output-dir", str(a), *BUILD]) == 0
    assert main(["build", "--scores", str(round_trip / "store"), "--output-dir", str(b), *BUILD]) == 0
    rows_a, rows_b = read_rows(a), read_rows(b)
    assert rows_a.height > 10_000 and rows_a.equals(rows_b)
    assert json.loads((b / "build_info.json").read_text())["scores"]["model"] == "external"
    assert main(["validate", str(b)]) == 0


@pytest.mark.parametrize("fmt", ["tsv", "csv.gz", "parquet"])
def test_table_import(tmp_path, original, fmt):
    table = _table(original)
    path = tmp_path / f"scores.{fmt}"
    if fmt == "parquet":
        table.write_parquet(path)
    elif fmt == "tsv":
        table.write_csv(path, separator="\t")
    else:
        import gzip

        path.write_bytes(gzip.compress(table.write_csv().encode(), compresslevel=1))
    assert main(["import", "--table", str(path), "--scores", str(tmp_path / "store")]) == 0
    got = _store_frame(tmp_path / "store")
    assert got.select("gene_id", "position", "donor", "acceptor").equals(
        original.select("gene_id", "position", "donor", "acceptor"))
    neither = np.maximum(np.float32(1) - got["donor"].to_numpy() - got["acceptor"].to_numpy(), np.float32(0))
    assert np.array_equal(got["neither"].to_numpy(), neither)  # computed where the source has no neither


def test_partly_covered_genes_are_left_out_and_counted(tmp_path, original, capsys):
    gene = original.filter(pl.col("strand") == "+")["gene_id"][0]
    rows = original.filter(pl.col("gene_id") == gene)
    hole = int(rows["position"][rows.height // 2])
    path = tmp_path / "scores.parquet"
    _table(original).filter(~((pl.col("strand") == "+") & (pl.col("position") == hole))).write_parquet(path)
    assert main(["import", "--table", str(path), "--scores", str(tmp_path / "store")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["genes_partly_covered"] >= 1 and summary["partly_covered_examples"][0].startswith(gene)
    store = ScoreStore(tmp_path / "store")
    assert gene not in store.genes()
    assert summary["genes_imported"] == len(store.genes()) == original["gene_id"].n_unique() - \
        summary["genes_partly_covered"]


def test_strand_check_votes_at_annotated_sites(tmp_path, original):
    """Both strands scored everywhere, but each strand's scores filed under the other: refused by the votes."""
    table = _table(original)
    other = {"+": "-", "-": "+"}
    filed = table.with_columns(pl.col("strand").replace_strict(other))  # true scores, filed on the other strand
    background = table.with_columns(donor=pl.lit(1e-4, pl.Float32), acceptor=pl.lit(1e-4, pl.Float32))
    swapped = pl.concat([filed, background]).unique(["chrom", "strand", "position"], keep="first")
    path = tmp_path / "swapped.parquet"
    swapped.write_parquet(path)
    assert main(["import", "--table", str(path), "--scores", str(tmp_path / "store")]) == 2
    assert not (tmp_path / "store").exists()
    assert main(["import", "--table", str(path), "--scores", str(tmp_path / "store"), "--no-strand-check"]) == 0
    assert len(ScoreStore(tmp_path / "store").genes()) == original["gene_id"].n_unique()


def test_overwrite_replaces_a_store(tmp_path, original):
    path = tmp_path / "scores.parquet"
    _table(original).write_parquet(path)
    store = tmp_path / "store"
    assert main(["import", "--table", str(path), "--scores", str(store)]) == 0
    assert main(["import", "--table", str(path), "--scores", str(store), "--overwrite"]) == 0
    assert _store_frame(store).select("gene_id", "position", "donor").equals(
        original.select("gene_id", "position", "donor"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet", "store"]


@pytest.mark.realdata
def test_round_trip_on_arabidopsis_chr1(ath_reference, tmp_path):
    """The whole 30.4 Mb chr1 (gzip FASTA, RefSeq genes): contigs, lengths and coordinates far from the demo's."""
    pytest.importorskip("pybigtools", reason="the tracks extra (pybigtools) is not installed")
    from tests.fake_scores import write_fake_store

    ref, _ = ath_reference
    genes = pl.read_parquet(ref / "genes.parquet").sort("start")
    # genes overlapping no other gene of their strand (the fake scores of two such genes would disagree)
    genes = genes.filter(pl.col("start") > pl.col("end").cum_max().shift(1).over("strand").fill_null(0))
    genes = genes.gather(np.linspace(0, genes.height - 1, 300).astype(int))
    sites = pl.read_parquet(ref / "splice_sites.parquet")
    write_fake_store(tmp_path / "store", genes, sites)
    assert main(["tracks", "--scores", str(tmp_path / "store"), "--reference", str(ref), "--out",
                 str(tmp_path / "tracks")]) == 0
    manifest = json.loads((tmp_path / "tracks" / "tracks.json").read_text())
    assert manifest["genome"]["contigs"] == {"NC_003070.9": 30_427_671}
    assert main(["import", "--tracks", str(tmp_path / "tracks"), "--reference", str(ref), "--scores",
                 str(tmp_path / "imported")]) == 0
    want = _store_frame(tmp_path / "store")
    got = _store_frame(tmp_path / "imported").filter(pl.col("gene_id").is_in(want["gene_id"].unique().implode()))
    assert got.equals(want)  # the genes of the fake store, exact
    # and genes of the annotation that lie inside a scored gene of their strand, scored by it
    imported = ScoreStore(tmp_path / "imported").index()
    extra = imported.filter(~pl.col("gene_id").is_in(want["gene_id"].unique().implode()))
    inside = extra.join(genes.select("strand", pl.col("start").alias("s0"), pl.col("end").alias("e0")), on="strand")
    assert inside.filter((pl.col("start") >= pl.col("s0")) & (pl.col("end") <= pl.col("e0")))["gene_id"].n_unique() \
        == extra.height
