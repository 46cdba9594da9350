"""Bad input to fastbuild tracks / fastbuild import (issue 24, item 5): one line each, nothing half-written.

Every kind tested here has an id in :data:`BAD_INPUTS`; each is one case of
:func:`test_bad_input`: exit status 2, one ``fastbuild: error:`` line naming the input, no
traceback, and nothing left at the output (no store, no ``*.tmp``), an existing store intact.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import polars as pl
import pytest

from fastbuild import demo
from fastbuild.basemodel.store import ScoreStore
from fastbuild.cli import main

bt = pytest.importorskip("pybigtools", reason="the tracks extra (pybigtools) is not installed")

CONTIG, LENGTH = "NC_003070.9", 700_000
INTERGENIC = (15_000, 15_100)  # no demo gene there (checked in intergenic_region)


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    """The demo store exported per strand and collapsed, and a table of its scores."""
    base = tmp_path_factory.mktemp("bad_tracks")
    assert main(["tracks", "--scores", str(demo.demo_scores()), "--out", str(base / "split")]) == 0
    assert main(["tracks", "--scores", str(demo.demo_scores()), "--out", str(base / "collapsed"),
                 "--strands", "collapse"]) == 0
    store = ScoreStore(demo.demo_scores())
    frame = store.load().join(store.index().select("gene_id", "chrom", "strand"), on="gene_id")
    table = frame.select("chrom", "position", "strand", "donor", "acceptor").unique(
        ["chrom", "strand", "position"], keep="first").sort("strand", "position")
    table.write_parquet(base / "table.parquet")
    return base


def intergenic_region():
    genes = ScoreStore(demo.demo_scores()).index()
    lo, hi = INTERGENIC
    assert genes.filter((pl.col("start") <= hi) & (pl.col("end") >= lo)).height == 0
    return lo, hi


def _bigwig(path: Path, sizes: dict, entries: list) -> Path:
    bt.open(str(path), "w").write(sizes, entries)
    return path


def _with(tracks: Path, tmp: Path, **replace) -> list[str]:
    """Import arguments: the four split bigWigs of the demo, some replaced."""
    files = {"donor-plus": tracks / "split" / "donor.plus.bw", "donor-minus": tracks / "split" / "donor.minus.bw",
             "acceptor-plus": tracks / "split" / "acceptor.plus.bw",
             "acceptor-minus": tracks / "split" / "acceptor.minus.bw"}
    files.update({k.replace("_", "-"): v for k, v in replace.items()})
    args = ["import", "--scores", str(tmp / "store")]
    for flag, path in files.items():
        args += [f"--{flag}", str(path)]
    return args


def _table_args(tmp: Path, table: pl.DataFrame, name: str = "t.parquet") -> list[str]:
    path = tmp / name
    if name.endswith(".parquet"):
        table.write_parquet(path)
    else:
        table.write_csv(path, separator="\t")
    return ["import", "--table", str(path), "--scores", str(tmp / "store")]


# ---------------------------------------------------------------------- the cases
def case_bigwig_truncated(tracks, tmp):
    data = (tracks / "split" / "donor.plus.bw").read_bytes()
    (tmp / "cut.bw").write_bytes(data[: len(data) // 2])
    return _with(tracks, tmp, donor_plus=tmp / "cut.bw"), "cut.bw is truncated"


def case_bigwig_truncated_tail(tracks, tmp):
    """Header intact (it opens), data cut off: found while reading."""
    data = (tracks / "split" / "acceptor.minus.bw").read_bytes()
    (tmp / "tail.bw").write_bytes(data[:-4096])
    return _with(tracks, tmp, acceptor_minus=tmp / "tail.bw"), "tail.bw is truncated (it ends at byte"


def case_bigwig_corrupt_bytes(tracks, tmp):
    data = bytearray((tracks / "split" / "donor.minus.bw").read_bytes())
    data[64:4160] = bytes(4096)
    (tmp / "zeroed.bw").write_bytes(bytes(data))
    return _with(tracks, tmp, donor_minus=tmp / "zeroed.bw"), "zeroed.bw is truncated or corrupt"


def case_bigwig_not_a_bigwig(tracks, tmp):
    (tmp / "text.bw").write_text("chr1\t0\t10\t0.5\n")
    return _with(tracks, tmp, donor_plus=tmp / "text.bw"), "text.bw is not a bigWig file"


def case_bigwig_empty_file(tracks, tmp):
    (tmp / "zero.bw").write_bytes(b"")
    return _with(tracks, tmp, acceptor_plus=tmp / "zero.bw"), "zero.bw is empty"


def case_bigwig_missing(tracks, tmp):
    return _with(tracks, tmp, donor_plus=tmp / "nowhere.bw"), "not found"


def case_bigwig_contig_not_in_genome(tracks, tmp):
    bw = _bigwig(tmp / "chr9.bw", {"chr9": 1000}, [("chr9", 0, 10, 0.5)])
    return _with(tracks, tmp, donor_plus=bw), "contig 'chr9' is not in the genome FASTA"


def case_bigwig_contig_length_differs(tracks, tmp):
    bw = _bigwig(tmp / "long.bw", {CONTIG: LENGTH + 1}, [(CONTIG, 0, 10, 0.5)])
    return _with(tracks, tmp, donor_plus=bw), "another assembly"


def case_track_empty_of_genes(tracks, tmp):
    lo, hi = intergenic_region()
    args = []
    for role in ("donor-plus", "donor-minus", "acceptor-plus", "acceptor-minus"):
        bw = _bigwig(tmp / f"{role}.bw", {CONTIG: LENGTH}, [(CONTIG, lo, hi, 0.01)])
        args += [f"--{role}", str(bw)]
    return ["import", "--scores", str(tmp / "store"), *args], "no score lies inside any gene"


def case_table_empty(tracks, tmp):
    (tmp / "empty.tsv").write_text("chrom\tposition\tstrand\tdonor\tacceptor\n")
    return ["import", "--table", str(tmp / "empty.tsv"), "--scores", str(tmp / "store")], "has no rows (an empty track)"


def case_wrong_strand_bigwigs_swapped(tracks, tmp):
    s = tracks / "split"
    args = _with(tracks, tmp, donor_plus=s / "donor.minus.bw", donor_minus=s / "donor.plus.bw",
                 acceptor_plus=s / "acceptor.minus.bw", acceptor_minus=s / "acceptor.plus.bw")
    return args, "swapped"


def case_wrong_strand_table_flipped(tracks, tmp):
    table = pl.read_parquet(tracks / "table.parquet").with_columns(
        pl.col("strand").replace_strict({"+": "-", "-": "+"}))
    return _table_args(tmp, table), "swapped"


def case_wrong_strand_value(tracks, tmp):
    table = pl.read_parquet(tracks / "table.parquet").with_columns(
        pl.when(pl.col("strand") == "+").then(pl.lit("1")).otherwise(pl.lit("-1")).alias("strand"))
    return _table_args(tmp, table, "t.tsv"), "strand '1' at"


def case_wrong_strand_collapsed_tracks(tracks, tmp):
    return ["import", "--tracks", str(tracks / "collapsed"), "--scores", str(tmp / "store")], "strand-collapsed"


def case_scores_above_one_bigwig(tracks, tmp):
    bw = _bigwig(tmp / "big.bw", {CONTIG: LENGTH}, [(CONTIG, 5000, 5010, 1.5), (CONTIG, 5010, 5020, 0.5)])
    return _with(tracks, tmp, donor_plus=bw), "outside [0, 1]"


def case_scores_negative_table(tracks, tmp):
    table = pl.read_parquet(tracks / "table.parquet")
    table = table.with_columns(pl.when(pl.int_range(pl.len()) == 1234).then(pl.lit(-0.25, pl.Float32))
                               .otherwise(pl.col("acceptor")).alias("acceptor"))
    return _table_args(tmp, table), "score -0.25 at"


def case_table_missing_column(tracks, tmp):
    return _table_args(tmp, pl.read_parquet(tracks / "table.parquet").drop("acceptor")), "lacks column(s) acceptor"


def case_table_duplicate_rows(tracks, tmp):
    table = pl.read_parquet(tracks / "table.parquet")
    return _table_args(tmp, pl.concat([table, table.head(1)])), "is given more than once"


def case_table_position_past_contig(tracks, tmp):
    table = pl.read_parquet(tracks / "table.parquet")
    table = pl.concat([table, table.head(1).with_columns(position=pl.lit(LENGTH + 5, pl.Int64))])
    return _table_args(tmp, table), "lies outside the contig"


def case_import_store_not_empty(tracks, tmp):
    (tmp / "store").mkdir()
    (tmp / "store" / "keep.txt").write_text("mine")
    return ["import", "--tracks", str(tracks / "split"), "--scores", str(tmp / "store")], "is not empty"


def case_import_nothing_named(tracks, tmp):
    return ["import", "--scores", str(tmp / "store")], "nothing to import"


def case_export_contig_mismatch(tracks, tmp):
    (tmp / "other.fa").write_text(">chrOther\n" + "ACGT" * 100 + "\n")
    return (["tracks", "--scores", str(demo.demo_scores()), "--fasta", str(tmp / "other.fa"), "--out",
             str(tmp / "out")], "contig 'NC_003070.9' is not in the genome FASTA")


def case_export_contig_too_short(tracks, tmp):
    (tmp / "short.fa").write_text(f">{CONTIG}\n" + "ACGT" * 1000 + "\n")
    return (["tracks", "--scores", str(demo.demo_scores()), "--fasta", str(tmp / "short.fa"), "--out",
             str(tmp / "out")], "position NC_003070.9:698,591 lies past the contig's end (4,000 in")


def case_export_out_not_empty(tracks, tmp):
    (tmp / "out").mkdir()
    (tmp / "out" / "keep.txt").write_text("mine")
    return ["tracks", "--scores", str(demo.demo_scores()), "--out", str(tmp / "out")], "is not empty"


def case_export_column_not_numeric(tracks, tmp):
    return ["tracks", "--dataset", str(tracks / "dataset"), "--column", "gene_id", "--out", str(tmp / "out")], \
        "--column gene_id is not a numeric column"


def case_export_predictions_missing_columns(tracks, tmp):
    pl.DataFrame({"gene_id": ["AT1G01010"], "position": [3700]}).write_parquet(tmp / "p.parquet")
    return (["tracks", "--predictions", str(tmp / "p.parquet"), "--out", str(tmp / "out")],
            "lacks column(s) p_donor, p_acceptor")


def case_export_dataset_not_a_build(tracks, tmp):
    """A finished folder of another kind (e.g. fastbuild variants --rows): no build columns."""
    (tmp / "rows" / "master").mkdir(parents=True)
    pl.DataFrame({"variant_id": ["22:1:A:C"], "position": [1]}).write_parquet(tmp / "rows" / "master" / "part.parquet")
    (tmp / "rows" / "_SUCCESS").write_text("{}")
    return (["tracks", "--dataset", str(tmp / "rows"), "--out", str(tmp / "out")],
            "is not a fastbuild build dataset: part.parquet has no column")


def case_export_predictions_null_chrom(tracks, tmp):
    pl.DataFrame({"gene_id": ["AT1G01010", "AT1G01010"], "chrom": [CONTIG, None], "strand": ["+", "+"],
                  "position": [3700, 3701], "p_donor": [0.1, 0.2], "p_acceptor": [0.0, 0.1]}).write_parquet(
        tmp / "p.parquet")
    return (["tracks", "--predictions", str(tmp / "p.parquet"), "--out", str(tmp / "out")],
            "row 2 has no chrom (null)")


def case_export_predictions_position_below_one(tracks, tmp):
    pl.DataFrame({"gene_id": ["AT1G01010"], "chrom": [CONTIG], "strand": ["+"], "position": [0],
                  "p_donor": [0.1], "p_acceptor": [0.0]}).write_parquet(tmp / "p.parquet")
    return (["tracks", "--predictions", str(tmp / "p.parquet"), "--out", str(tmp / "out")],
            "position 0 is below 1")


def case_export_two_sources(tracks, tmp):
    return (["tracks", "--scores", str(demo.demo_scores()), "--dataset", str(tmp), "--out", str(tmp / "out")],
            "give one of --scores, --dataset, --predictions")


def case_pybigtools_missing(tracks, tmp):
    return _with(tracks, tmp), "pip install 'fastbuild-splice[tracks]'"


CASES = {name[len("case_"):].replace("_", "-"): fn for name, fn in sorted(globals().items())
         if name.startswith("case_")}
BAD_INPUTS = list(CASES)


@pytest.fixture(scope="module")
def dataset(tracks):
    out = tracks / "dataset"
    assert main(["build", "--output-dir", str(out), "--n-genes", "5", "--no-progress"]) == 0
    return out


def _listing(folder: Path) -> list[Path]:
    """Every path under ``folder`` but FASTA indexes (pyfaidx writes them beside a FASTA it reads)."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.suffix != ".fai")


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input(case, tracks, tmp_path, capsys, monkeypatch, request):
    if case == "export-column-not-numeric":
        request.getfixturevalue("dataset")
    args, expected = CASES[case](tracks, tmp_path)
    before = _listing(tmp_path)
    if case == "pybigtools-missing":
        monkeypatch.setitem(sys.modules, "pybigtools", None)  # as if the extra were not installed
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("fastbuild: error: "), err
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err
    after = _listing(tmp_path)
    assert after == before, f"left behind: {sorted(set(after) - set(before))}"  # nothing half-written, nothing lost


def test_bad_inputs_listed_once():
    assert len(BAD_INPUTS) == len(set(BAD_INPUTS)) >= 20
    assert pl.Series(BAD_INPUTS).str.contains("^[a-z0-9-]+$").all()


def test_failed_overwrite_keeps_the_existing_store(tracks, tmp_path, capsys):
    """--overwrite with bad tracks: the store already there stays as it was."""
    store = tmp_path / "store"
    assert main(["import", "--tracks", str(tracks / "split"), "--scores", str(store)]) == 0
    before = {p.name: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    s = tracks / "split"
    args = _with(tracks, tmp_path, donor_plus=s / "donor.minus.bw", donor_minus=s / "donor.plus.bw",
                 acceptor_plus=s / "acceptor.minus.bw", acceptor_minus=s / "acceptor.plus.bw")
    assert main([*args, "--overwrite"]) == 2
    assert {p.name: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    shutil.rmtree(store)
