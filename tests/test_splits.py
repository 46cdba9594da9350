"""Leakage-safe splits (fastbuild.builder.splits): spec parsing, gene clusters, cluster-whole splits.

Every bad ``--split`` spec or split file tested here has an id in :data:`BAD_INPUTS`; each is one
parametrized case (``pytest tests/test_splits.py -k region-overlap``).
"""

from __future__ import annotations

import random

import polars as pl
import pytest

from fastbuild.builder.splits import (
    BASE_MODEL_TRAINING,
    NONE,
    SPLICEAI,
    UNASSIGNED,
    SplitSpec,
    assign_splits,
    contig_key,
    gene_clusters,
    on_training_chromosome,
    parse_split,
    read_split_file,
    split_genes,
    training_chromosomes,
)
from fastbuild.errors import FastbuildError
from tests.conftest import ATH_GTF, need

#: bad spec text -> a part the one-line error must contain
SPEC_CASES = {
    "split-unknown-kind": ("bychrom:test=chr1", "unknown kind"),
    "split-empty": ("", "unknown kind"),
    "split-not-text": (3, "must be text"),
    "split-chrom-no-clause": ("chrom:", "no SPLIT=LIST clause"),
    "split-chrom-no-equals": ("chrom:test", "has no '='"),
    "split-chrom-empty-clause": ("chrom:test=chr1;;train=rest", "empty clause"),
    "split-chrom-empty-item": ("chrom:test=chr1,,chr3", "empty item"),
    "split-chrom-empty-list": ("chrom:test=", "empty item"),
    "split-name-not-identifier": ("chrom:te st=chr1", "not an identifier"),
    "split-name-starts-with-digit": ("chrom:1test=chr1", "not an identifier"),
    "split-name-empty": ("chrom:=chr1", "not an identifier"),
    "split-name-too-long": ("chrom:" + "t" * 65 + "=chr1", "not an identifier"),
    "split-name-is-rest": ("chrom:rest=chr1", "keyword"),
    "split-name-twice": ("chrom:test=chr1;test=chr3", "given twice"),
    "split-rest-twice": ("chrom:train=rest;valid=rest", "'rest' is given twice"),
    "split-rest-mixed": ("chrom:train=chr2,rest", "stands alone"),
    "split-contig-twice": ("chrom:test=chr1;train=1", "listed twice"),
    "split-region-no-coords": ("region:test=chr1", "not CHROM:START-END"),
    "split-region-bad-coords": ("region:test=chr1:1-1e6", "not CHROM:START-END"),
    "split-region-negative": ("region:test=chr1:-5-10", "not CHROM:START-END"),
    "split-region-no-chrom": ("region:test=:1-10", "not CHROM:START-END"),
    "split-region-start-zero": ("region:test=chr1:0-10", "1 <= START <= END"),
    "split-region-end-before-start": ("region:test=chr1:10-5", "1 <= START <= END"),
    "split-region-beyond-int64": ("region:test=chr1:1-99999999999999999999", "1 <= START <= END"),
    "split-region-overlap": ("region:test=chr1:1-100;train=Chr1:100-200", "overlap"),
    "split-region-overlap-nested": ("region:a=x:1-1000,x:10-20;b=x:500-600", "overlap"),
    "split-file-no-path": ("file:", "no file given"),
    "split-file-missing": ("file:/nonexistent/splits.tsv", "not found"),
}

#: split file text -> a part the one-line error must contain
FILE_CASES = {
    "split-file-empty": ("", "is empty"),
    "split-file-only-comments": ("# nothing\n\n", "is empty"),
    "split-file-no-split-column": ("gene_id\tfold\nG1\ttrain\n", "no split column"),
    "split-file-no-header": ("G1\ttrain\nG2\ttest\n", "no gene_id or split column"),
    "split-file-short-row": ("gene_id\tsplit\nG1\n", ":2: 1 columns"),
    "split-file-empty-split": ("gene_id,split\nG1,\n", ":2: empty gene_id or split"),
    "split-file-bad-split-name": ("gene_id\tsplit\nG1\ttest set\n", "not an identifier"),
    "split-file-conflicting": ("gene_id\tsplit\nG1\ttrain\nG2\ttest\nG1\ttest\n", ":4: gene G1"),
    "split-file-not-utf8": (b"gene_id\tsplit\nG\xff1\ttrain\n", "not UTF-8"),
}

BAD_INPUTS = [*SPEC_CASES, *FILE_CASES, "split-file-directory", "split-genes-missing-column",
              "split-genes-null-span"]


def _one_line(exc: pytest.ExceptionInfo, want: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg and want in msg, msg


@pytest.mark.parametrize("case", list(SPEC_CASES), ids=list(SPEC_CASES))
def test_bad_spec_is_one_line(case):
    text, want = SPEC_CASES[case]
    with pytest.raises(FastbuildError) as exc:
        parse_split(text)
    _one_line(exc, want)
    assert "--split" in str(exc.value)


@pytest.mark.parametrize("case", list(FILE_CASES), ids=list(FILE_CASES))
def test_bad_split_file_is_one_line(case, tmp_path):
    content, want = FILE_CASES[case]
    path = tmp_path / "splits.tsv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    spec = parse_split(f"file:{path}")  # the path is checked at parse time, the content when read
    with pytest.raises(FastbuildError) as exc:
        split_genes(GENES, spec)
    _one_line(exc, want)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("case", ["split-file-directory"], ids=["split-file-directory"])
def test_split_file_directory(case, tmp_path):
    with pytest.raises(FastbuildError) as exc:
        parse_split(f"file:{tmp_path}")
    _one_line(exc, "is a directory")


@pytest.mark.parametrize("case", ["split-genes-missing-column", "split-genes-null-span"],
                         ids=["split-genes-missing-column", "split-genes-null-span"])
def test_bad_genes_table(case):
    genes = GENES.drop("end") if case == "split-genes-missing-column" else \
        GENES.with_columns(start=pl.when(pl.col("gene_id") == "A").then(None).otherwise(pl.col("start")))
    with pytest.raises(FastbuildError) as exc:
        split_genes(genes, "spliceai")
    _one_line(exc, "genes table")


def test_bad_inputs_listed_once():
    assert len(BAD_INPUTS) == len(set(BAD_INPUTS))
    assert pl.Series(BAD_INPUTS).str.contains("^[a-z0-9-]+$").all()


# ---------------------------------------------------------------------------- parsing

GOOD_SPECS = [
    "none", "spliceai", "chrom:test=chr1,chr3;valid=chr2;train=rest", "chrom:test=1", "chrom:train=rest",
    "chrom:fold-1=chrA;fold_2=chrB", "region:test=NC_003070.9:1-10000000;train=rest",
    "region:test=HLA-A*01:01:01:01:1-500,chr1:1-10;valid=chr1:11-20",
    "region:a=x:1-5,x:3-9;b=rest",
]


@pytest.mark.parametrize("text", GOOD_SPECS)
def test_spec_round_trip(text):
    spec = parse_split(text)
    assert parse_split(spec.text) == spec
    assert parse_split(str(spec)) == spec
    assert hash(spec) == hash(parse_split(spec.text))


def test_spec_forms():
    assert parse_split("none") is NONE and parse_split(" NONE ") is NONE
    assert parse_split("SpliceAI") is SPLICEAI and SPLICEAI.names == ("test", "train")
    spec = parse_split(" chrom : test = chr1 , chr3 ; train = rest ;")
    assert spec == SplitSpec("chrom", (("test", ("chr1", "chr3")),), "train")
    assert spec.text == "chrom:test=chr1,chr3;train=rest" and spec.names == ("test", "train")
    region = parse_split("Region:test=HLA-A*01:01:1-5")
    assert region.clauses == (("test", (("HLA-A*01:01", 1, 5),)),) and region.rest is None
    # touching regions of two splits do not overlap (1-based inclusive)
    assert parse_split("region:a=x:1-100;b=x:101-200").names == ("a", "b")


def test_contig_key():
    assert {contig_key(c) for c in ("1", "chr1", "Chr1", "CHR1", " chr1 ")} == {"1"}
    assert contig_key("chrX") == contig_key("x") and contig_key("chr") == "chr"
    assert contig_key("NC_003070.9") == "nc_003070.9"


def test_file_spec_path_is_checked_but_not_read(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("")
    spec = parse_split(f"file:{path}")  # an empty file parses: its content is read when splitting
    assert spec.kind == "file" and spec.path == str(path) and spec.text == f"file:{path}"
    path.write_text("split,gene_id,extra\ntest,G1,1\n")  # columns found by name, not position
    assert read_split_file(path).to_dicts() == [{"gene_id": "G1", "split": "test"}]


# ---------------------------------------------------------------------------- clusters


def _genes(rows):
    return pl.DataFrame(rows, schema=["gene_id", "chrom", "start", "end", "strand"], orient="row")


GENES = _genes([
    ("A", "chr1", 100, 300, "+"),   # A, B (nested, other strand), C (shares base 300 with A): one cluster
    ("B", "chr1", 150, 200, "-"),
    ("C", "chr1", 300, 400, "+"),
    ("D", "chr1", 401, 500, "-"),   # adjacent to C (400 == 401 - 1): a cluster of its own
    ("E", "chr2", 100, 300, "+"),   # same coordinates as A, other contig
    ("F", "chr3", 10, 20, "+"),
    ("G", "chrM", 1, 50, "+"),
    ("H", "1", 1000, 2000, "+"),
])


def test_clusters_overlap_nested_opposite_strand_and_adjacent():
    ids = dict(zip(GENES["gene_id"], gene_clusters(GENES), strict=True))
    assert ids["A"] == ids["B"] == ids["C"] == "chr1:100-400"
    assert ids["D"] == "chr1:401-500" and ids["E"] == "chr2:100-300" and ids["H"] == "1:1000-2000"
    assert len(set(ids.values())) == 6


def test_clusters_transitive_chain():
    # X1 and X3 do not overlap, but both overlap X2; a long gene after a short one still links
    genes = _genes([("X1", "c", 1, 10, "+"), ("X2", "c", 10, 20, "-"), ("X3", "c", 20, 30, "+"),
                    ("Y1", "c", 100, 1000, "+"), ("Y2", "c", 200, 210, "+"), ("Y3", "c", 900, 1100, "-"),
                    ("Z", "c", 1101, 1200, "+")])
    assert gene_clusters(genes).to_list() == ["c:1-30"] * 3 + ["c:100-1100"] * 3 + ["c:1101-1200"]


def test_cluster_ids_do_not_depend_on_row_order():
    rng = random.Random(7)
    rows = []
    for i in range(400):
        chrom = f"chr{rng.randint(1, 5)}"
        start = rng.randint(1, 50_000)
        rows.append((f"g{i}", chrom, start, start + rng.randint(0, 2_000), rng.choice("+-")))
    genes = _genes(rows)
    base = dict(zip(genes["gene_id"], gene_clusters(genes), strict=True))
    for seed in range(3):
        shuffled = genes.sample(fraction=1.0, shuffle=True, seed=seed)
        assert dict(zip(shuffled["gene_id"], gene_clusters(shuffled), strict=True)) == base
    # the brute-force definition: two genes overlapping share a cluster
    for a in rows[:80]:
        for b in rows:
            if a[1] == b[1] and a[2] <= b[3] and b[2] <= a[3]:
                assert base[a[0]] == base[b[0]]


def test_empty_genes():
    empty = GENES.head(0)
    assert gene_clusters(empty).len() == 0 and assign_splits(empty, "spliceai").len() == 0


# ---------------------------------------------------------------------------- splits


def _by_gene(genes, spec):
    return dict(zip(genes["gene_id"], assign_splits(genes, spec), strict=True))


def test_none_gives_nulls():
    res = split_genes(GENES, "none")
    assert res.split.null_count() == GENES.height and res.split.dtype == pl.Utf8
    assert res.cluster.to_list() == gene_clusters(GENES).to_list()


def test_spliceai_preset():
    got = _by_gene(GENES, SPLICEAI)
    assert got == {"A": "test", "B": "test", "C": "test", "D": "test", "E": "train", "F": "test",
                   "G": UNASSIGNED, "H": "test"}
    genes = _genes([(f"g{c}", c, 1, 10, "+") for c in ("2", "Chr10", "CHR22", "x", "chrY", "chr23", "MT", "chrUn_x")])
    assert list(_by_gene(genes, "spliceai").values()) == ["train"] * 5 + [UNASSIGNED] * 3


def test_chrom_lists_and_rest():
    assert _by_gene(GENES, "chrom:test=chr1;valid=2;train=rest") == {
        "A": "test", "B": "test", "C": "test", "D": "test", "E": "valid", "F": "train", "G": "train", "H": "test"}
    res = split_genes(GENES, "chrom:test=chr3,chr9")
    assert res.summary["genes_per_split"] == {"test": 1, UNASSIGNED: 7}
    assert res.summary["contigs_without_genes"] == ["chr9"]


def test_region_boundary_cutting_a_cluster_moves_the_whole_cluster():
    # midpoints: A 200, B 175, C 350; the boundary 180/181 puts B in test, A and C in train
    res = split_genes(GENES, "region:test=chr1:1-180;train=rest")
    got = dict(zip(GENES["gene_id"], res.split, strict=True))
    assert got["A"] == got["B"] == got["C"] == "train"  # the cluster follows its first gene, A
    assert res.summary["clusters_moved"] == 1 and res.summary["genes_moved"] == 1
    # the other way round: A's midpoint inside the test region pulls B and C in
    got = _by_gene(GENES, "region:test=chr1:190-210;train=rest")
    assert got["A"] == got["B"] == got["C"] == "test" and got["D"] == "train"


def test_region_without_rest_and_first_assigned_gene():
    # A (first gene) lies outside every region: the cluster takes C's split, the first assigned
    got = _by_gene(GENES, "region:test=chr1:340-360")
    assert got["A"] == got["B"] == got["C"] == "test"
    assert got["D"] == got["E"] == UNASSIGNED
    # regions of one split may overlap; names match without 'chr'
    got = _by_gene(GENES, "region:test=1:1-150,CHR1:100-180;valid=chr1:1000-1600;train=rest")
    assert got["H"] == "valid" and got["A"] == "train"


def test_file_split(tmp_path):
    path = tmp_path / "splits.tsv"
    path.write_text("# my folds\ngene_id\tsplit\tnote\nA\ttrain\tx\nB\ttest\ty\nE\tvalid\t\nZZZ\ttest\t\n")
    res = split_genes(GENES, f"file:{path}")
    got = dict(zip(GENES["gene_id"], res.split, strict=True))
    assert got["A"] == got["B"] == got["C"] == "train"  # B moved with its cluster; C was unlisted
    assert got["E"] == "valid" and got["D"] == got["F"] == UNASSIGNED
    s = res.summary
    assert s["file_genes_not_in_genes_table"] == 1 and s["genes_missing_from_file"] == 5
    assert s["clusters_moved"] == 1 and s["genes_moved"] == 2  # B (test -> train), C (unassigned -> train)


def test_csv_split_file_gzip(tmp_path):
    import gzip

    path = tmp_path / "splits.csv.gz"
    path.write_bytes(gzip.compress(b'"gene_id","split"\n"F","test"\n'))
    assert _by_gene(GENES, f"file:{path}")["F"] == "test"


def test_every_cluster_in_one_split_random():
    rng = random.Random(3)
    rows = [(f"g{i}", f"chr{rng.randint(1, 3)}", s := rng.randint(1, 100_000), s + rng.randint(0, 5_000), "+")
            for i in range(500)]
    genes = _genes(rows)
    for spec in ("region:test=chr1:1-50000,chr2:30000-60000;valid=chr3:1-40000;train=rest", "spliceai"):
        res = split_genes(genes, spec)
        per = pl.DataFrame({"c": res.cluster, "s": res.split}).group_by("c").agg(pl.col("s").n_unique())
        assert per["s"].max() == 1
    assert res.summary["clusters"] + res.summary["multi_gene_clusters"] > 0


def test_split_is_aligned_with_input_rows():
    shuffled = GENES.sample(fraction=1.0, shuffle=True, seed=1)
    spec = "chrom:test=chr1;valid=2;train=rest"
    assert _by_gene(shuffled, spec) == _by_gene(GENES, spec)


# ---------------------------------------------------------------------------- base models


def test_base_model_training_chromosomes():
    assert training_chromosomes("spliceai") == BASE_MODEL_TRAINING["spliceai"]
    assert training_chromosomes("SpliceAI") == BASE_MODEL_TRAINING["spliceai"]
    assert training_chromosomes("openspliceai-arabidopsis-10000nt") is None
    assert training_chromosomes("my-model") is None and training_chromosomes("spliceaix") is None
    got = on_training_chromosome(GENES, "spliceai")
    assert got.name == "base_model_training_chrom" and got.dtype == pl.Boolean
    assert got.to_list() == [False, False, False, False, True, False, False, False]
    unknown = on_training_chromosome(GENES, "openspliceai-mane-10000nt")
    assert unknown.null_count() == GENES.height and unknown.dtype == pl.Boolean


# ---------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_arabidopsis_chr1_clusters_never_straddle_splits():
    need(ATH_GTF)
    from fastbuild.annotation import load_annotation

    genes = load_annotation(ATH_GTF).genes
    chrom = genes["chrom"][0]
    middle = int(genes["end"].max()) // 2
    res = split_genes(genes, f"region:test={chrom}:1-{middle};train=rest")
    s = res.summary
    per = pl.DataFrame({"c": res.cluster, "s": res.split}).group_by("c").agg(pl.col("s").n_unique())
    assert per["s"].max() == 1 and s["unassigned_genes"] == 0
    assert s["genes"] == genes.height and s["clusters"] < genes.height and s["multi_gene_clusters"] > 100
    # agrees with the annotation's own overlap counts: a gene overlapping another is in a multi-gene cluster
    sizes = pl.DataFrame({"c": res.cluster}).group_by("c").len()
    multi = set(sizes.filter(pl.col("len") > 1)["c"])
    overlapping = genes.with_columns(c=res.cluster).filter(pl.col("num_overlaps") > 0)
    assert overlapping["c"].is_in(pl.Series(sorted(multi)).implode()).all()
    # a boundary cut through a multi-gene cluster near the middle: the whole cluster moves
    g = genes.with_columns(c=res.cluster, mid=(pl.col("start") + pl.col("end")) // 2)
    cut = g.filter(pl.col("c").is_in(pl.Series(sorted(multi)).implode()) & (pl.col("start") > middle))
    cluster = cut.filter(pl.col("c") == cut.sort("start")["c"][0]).sort("mid")
    boundary = int(cluster["mid"][0])  # the lowest midpoint of the cluster's genes in test, the others not
    cut_res = split_genes(genes, f"region:test={chrom}:1-{boundary};train=rest")
    assert cut_res.summary["clusters_moved"] >= 1
    per = pl.DataFrame({"c": cut_res.cluster, "s": cut_res.split}).group_by("c").agg(pl.col("s").n_unique())
    assert per["s"].max() == 1
    print(f"\nArabidopsis chr1: {s['genes']} genes, {s['clusters']} clusters, {s['multi_gene_clusters']} multi-gene, "
          f"split at {middle}: {s['genes_per_split']}, clusters moved {s['clusters_moved']}; "
          f"cut at {boundary}: clusters moved {cut_res.summary['clusters_moved']}, "
          f"genes moved {cut_res.summary['genes_moved']}")
