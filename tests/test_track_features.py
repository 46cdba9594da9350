"""``fastbuild build --track NAME=PATH``: track columns checked against the bigWig read directly.

The tracks are synthetic (random values with gaps over the demo's contig), written with
pybigtools' writer (bigWig) and as text (bedGraph); each column of a demo build is compared with
values read straight from the bigWig with pybigtools' reader. Every bad track input tested here
has an id in :data:`BAD_INPUTS`: one line, exit status 2, nothing finished-looking left.
"""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from fastbuild.builder import build_dataset
from fastbuild.builder.config import BuildConfig
from fastbuild.cli import main
from fastbuild.errors import FastbuildError
from fastbuild.tracks.features import TRACK_WINDOWS, track_column_names
from fastbuild.tracks.reader import open_track

CONTIG, CONTIG_LENGTH, COVERED = "NC_003070.9", 30_427_671, 700_000  # the demo FASTA covers 1..700,000
GENES = {"n_genes": 24, "subset_policy": "random", "seed": 3}  # a quick demo build: both strands, ~20k rows

BAD_INPUTS = [
    "track-bigwig-corrupt-data", "track-bigwig-truncated", "track-bigwig-contigs-of-another-genome",
    "track-bigwig-contig-of-another-assembly", "track-bedgraph-empty", "track-bedgraph-gzip-empty",
    "track-bedgraph-unsorted", "track-bedgraph-overlapping", "track-bedgraph-malformed-line",
    "track-bedgraph-contigs-of-another-genome", "track-binary-junk", "track-file-missing",
    "track-spec-without-path", "track-name-not-a-column-name", "track-name-clashes-with-a-column",
    "track-name-given-twice", "track-bigbed-given",
]


def _intervals(seed: int, end: int = COVERED + 2_000):
    """Sorted, non-overlapping (start, end, value) runs of 1..29 bases with ~20% gaps."""
    rng = np.random.default_rng(seed)
    out, pos = [], 0
    while pos < end:
        length = int(rng.integers(1, 30))
        if rng.random() >= 0.2:
            out.append((pos, min(end, pos + length), float(np.float32(rng.normal() * 3))))
        pos += length
    return out


def _write_bigwig(path, records, chroms=None):
    pybigtools = pytest.importorskip("pybigtools", reason="bigWig tracks need the tracks extra (pybigtools)")
    writer = pybigtools.open(str(path), "w")
    writer.write(chroms or {CONTIG: CONTIG_LENGTH}, iter(records))
    return path


def _write_bedgraph(path, records, header=True):
    lines = ["track type=bedGraph name=test\n"] if header else []
    lines += [f"{c}\t{s}\t{e}\t{v!r}\n" for c, s, e, v in records]
    text = "".join(lines).encode()
    path.write_bytes(gzip.compress(text) if path.suffix == ".gz" else text)
    return path


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    """A bigWig, and a bedGraph (gzip) of other values, over the demo's contig."""
    folder = tmp_path_factory.mktemp("tracks")
    bw = _write_bigwig(folder / "cons.bw", [(CONTIG, s, e, v) for s, e, v in _intervals(1)])
    bg_records = [(CONTIG, s, e, v) for s, e, v in _intervals(2)]
    bg = _write_bedgraph(folder / "acc.bedGraph.gz", bg_records)
    bg_as_bw = _write_bigwig(folder / "acc.bw", bg_records)
    return {"bw": bw, "bg": bg, "bg_as_bw": bg_as_bw}


@pytest.fixture(scope="module")
def built(tracks):
    config = BuildConfig.from_options(output_dir=None, progress=False, **GENES,
                                      tracks=(f"cons={tracks['bw']}", f"acc={tracks['bg']}"))
    return build_dataset(config)


def _direct(path, chrom, start0, end0):
    """Values of [start0, end0) read straight from the bigWig with pybigtools (NaN: no data)."""
    import pybigtools

    with pybigtools.open(str(path)) as bw:
        lo, hi = max(start0, 0), min(end0, bw.chroms()[chrom])
        out = np.full(end0 - start0, np.nan)
        out[lo - start0:hi - start0] = bw.values(chrom, lo, hi, fillna=None)
    return out


def _expected(path, df: pl.DataFrame) -> dict[str, list]:
    """Every track column of the rows of ``df``, computed from direct bigWig reads, per gene."""
    pad = max(TRACK_WINDOWS)
    cols = {name: [] for name in track_column_names("t")}
    for (start, end), rows in df.group_by(["gene_start", "gene_end"], maintain_order=True):
        ext = _direct(path, CONTIG, start - 1 - pad, end + pad)  # index i: genomic position start - pad + i
        for pos, strand in rows.select("position", "strand").iter_rows():
            i = pos - (start - pad)
            cols["t"].append(ext[i])
            for w in TRACK_WINDOWS:
                five, three = (ext[i - w:i], ext[i + 1:i + w + 1])
                up, down = (five, three) if strand == "+" else (three, five)
                for side, window in (("up", up), ("down", down)):
                    covered = window[~np.isnan(window)]
                    cols[f"t_mean_{side}{w}"].append(covered.mean() if covered.size else np.nan)
    return cols


def _compare(df: pl.DataFrame, name: str, path) -> None:
    expected = _expected(path, df)
    for col, want in zip(track_column_names(name), expected.values(), strict=True):
        got = df[col].to_numpy().astype(np.float64)  # null -> NaN
        want = np.array(want, np.float64)
        assert np.array_equal(np.isnan(got), np.isnan(want)), col
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, equal_nan=True, err_msg=col)


def _with_gene_bounds(built) -> pl.DataFrame:
    df = built.to_polars()
    genes = built.manifest.select("gene_id", pl.col("start").alias("gene_start"), pl.col("end").alias("gene_end"))
    return df.join(genes, on="gene_id", how="left", maintain_order="left")


def test_bigwig_columns_equal_values_read_directly(built, tracks):
    df = _with_gene_bounds(built)
    assert df.height > 5_000 and set(df["strand"]) == {"+", "-"}
    assert df["cons"].null_count() > 0 and df["cons"].null_count() < df.height  # gaps read as null, not 0
    _compare(df, "cons", tracks["bw"])


def test_bedgraph_columns_equal_the_same_values_as_bigwig(built, tracks):
    df = _with_gene_bounds(built)
    _compare(df, "acc", tracks["bg_as_bw"])


def test_track_columns_are_features_from_source_track(built):
    schema = built.table.schema
    roles = json.loads(schema.metadata[b"fastbuild.roles"])
    drop = json.loads(schema.metadata[b"fastbuild.drop_for_training"])
    for name in ("cons", "acc"):
        for col in track_column_names(name):
            field = schema.field(col)
            assert field.nullable and str(field.type) == "float"
            assert field.metadata[b"fastbuild.source"] == b"track" and roles[col] == "feature" and col not in drop
    assert schema.names.index("cons") < schema.names.index("gene_type")


def test_default_build_hash_is_unchanged_and_tracks_enter_the_inputs(tmp_path, tracks, capfd):
    assert "tracks" not in BuildConfig().rows_relevant()  # no --track: the hash of before
    out = tmp_path / "out"
    args = ["build", "--output-dir", str(out), "--no-progress", "--n-genes", "4", "--subset-policy", "random",
            "--track", f"cons={tracks['bw']}", "--track", f"acc={tracks['bg']}"]
    assert main(args) == 0
    info = json.loads((out / "build_info.json").read_text())
    from fastbuild.files import sha256_file

    assert info["input_checksums"]["tracks"] == {"cons": sha256_file(tracks["bw"]), "acc": sha256_file(tracks["bg"])}
    assert info["config"]["tracks"] == [f"cons={tracks['bw']}", f"acc={tracks['bg']}"]
    assert main(["validate", str(out)]) == 0
    first = pq.read_table(next((out / "master").glob("*.parquet")))
    assert "cons_mean_down250" in first.column_names
    # an edited track file is a changed input: the rerun refuses and names it
    copy = tmp_path / "cons.bw"
    copy.write_bytes(tracks["bw"].read_bytes())
    _write_bedgraph(tmp_path / "acc.bedGraph.gz", [(CONTIG, 0, 10, 1.0)])
    capfd.readouterr()
    assert main([*args[:-4], "--track", f"cons={copy}", "--track", f"acc={tmp_path / 'acc.bedGraph.gz'}"]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "tracks" in err, err


def test_reader_reads_intervals_with_nan_for_no_data(tmp_path):
    records = [("c1", 10, 20, 1.5), ("c1", 20, 21, -2.0), ("c1", 100, 200, 3.25), ("c2", 0, 5, 7.0)]
    bg = _write_bedgraph(tmp_path / "t.bedGraph", records)
    spaced = tmp_path / "spaced.bedGraph"
    spaced.write_text("".join(f"{c} {s} {e} {v}\n" for c, s, e, v in records))
    commented = tmp_path / "commented.bedGraph"  # '#' and track lines before the data, a comment among it
    commented.write_text("# phyloP\ntrack type=bedGraph\n\n" + "".join(
        f"{c}\t{s}\t{e}\t{v}\n" + ("# a comment\n" if k == 1 else "") for k, (c, s, e, v) in enumerate(records)))
    want = np.full(30, np.nan, np.float32)
    want[15:25], want[25] = 1.5, -2.0  # read [-5, 25): bases before 0 have no data
    for path in (bg, spaced, commented):
        track = open_track("t", path)
        np.testing.assert_array_equal(track.read("c1", -5, 25), want)
        np.testing.assert_array_equal(track.read("c2", 3, 8), np.array([7, 7, np.nan, np.nan, np.nan], np.float32))
        assert np.isnan(track.read("c9", 0, 3)).all() and track.read("c1", 5, 5).size == 0
    bw = _write_bigwig(tmp_path / "t.bw", records, {"c1": 1000, "c2": 500})
    with open_track("t", bw) as track:
        assert track.kind == "bigWig" and track.contigs() == {"c1": 1000, "c2": 500}
        np.testing.assert_array_equal(track.read("c1", -5, 25), want)
        assert np.isnan(track.read("c1", 995, 1005)).all()  # past the contig end: no data


def test_gene_values_are_strand_oriented_and_null_off_the_track(tmp_path):
    from fastbuild.tracks.features import PAD, BuildTracks

    bg = _write_bedgraph(tmp_path / "t.bedGraph", [("chr1", i, i + 1, float(i)) for i in range(2_000)])
    with BuildTracks([("t", bg)], {"1": 5_000, "2": 5_000}, ["1", "2"]) as tracks:  # chr1 = 1; no 2 in the track
        assert tracks.tracks[0][1] == {"1": "chr1"}
        plus = tracks.gene_values({"chrom": "1", "start": 1_001, "end": 1_010, "strand": "+"})["t"]
        minus = tracks.gene_values({"chrom": "1", "start": 1_001, "end": 1_010, "strand": "-"})["t"]
        off = tracks.gene_values({"chrom": "2", "start": 1_001, "end": 1_010, "strand": "+"})["t"]
    assert plus.dtype == np.float32 and plus.size == 10 + 2 * PAD
    assert plus[PAD] == 1_000 and minus[PAD] == 1_009  # index PAD: the gene's 5' end (0-based value = position - 1)
    np.testing.assert_array_equal(minus, plus[::-1])
    assert np.isnan(off).all()


# ---------------------------------------------------------------------------------------------- bad input
def one_line_error(capfd, argv, *needles) -> str:
    capfd.readouterr()
    assert main(argv) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fastbuild: error:"), err
    for n in needles:
        assert n in err, err
    return err


def _refused(tmp_path, capfd, track_args, *needles) -> None:
    """A build with these --track arguments fails in one line and leaves no batch file, no master/, no _SUCCESS."""
    out = tmp_path / "out"
    one_line_error(capfd, ["build", "--output-dir", str(out), "--no-progress", "--n-genes", "4",
                            "--subset-policy", "random", *track_args], *needles)
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert not [n for n in left if n.startswith(("batch_", "master", "_SUCCESS", "build_info"))], left


def test_corrupt_bigwig_data_fails_in_one_line(tmp_path, capfd, tracks):
    data = bytearray(tracks["bw"].read_bytes())  # header and index intact: the damage shows when a block is read
    data_offset, index_offset = struct.unpack_from("<QQ", data, 16)
    for i in range(data_offset + 200, index_offset - 200):
        data[i] ^= 0x5A
    bad = tmp_path / "corrupt.bw"
    bad.write_bytes(bytes(data))
    _refused(tmp_path, capfd, ["--track", f"cons={bad}"], "track cons", "corrupt bigWig: cannot read NC_003070.9:")


def test_truncated_bigwig_fails_in_one_line(tmp_path, capfd, tracks):
    data = tracks["bw"].read_bytes()
    for n, cut in enumerate((40, len(data) // 2, len(data) - 3)):
        bad = tmp_path / f"cut{n}.bw"
        bad.write_bytes(data[:cut])
        _refused(tmp_path, capfd, ["--track", f"cons={bad}"], f"track cons ({bad})", "is truncated")


def test_bigwig_of_another_genome_fails_in_one_line(tmp_path, capfd):
    other = _write_bigwig(tmp_path / "hg.bw", [("chr5", 0, 100, 1.0)], {"chr5": 1000, "chr6": 1000})
    _refused(tmp_path, capfd, ["--track", f"cons={other}"], "match none of the genome's contigs", "chr5",
             CONTIG)


def test_bigwig_of_another_assembly_fails_in_one_line(tmp_path, capfd):
    short = _write_bigwig(tmp_path / "short.bw", [(CONTIG, 0, 100, 1.0)], {CONTIG: 500_000})
    _refused(tmp_path, capfd, ["--track", f"cons={short}"], "500,000 bp long in the track", "another assembly")


@pytest.mark.parametrize("name,content", [("empty.bedGraph", b"track type=bedGraph\n\n"),
                                          ("empty.bedGraph.gz", gzip.compress(b""))], ids=["plain", "gzip"])
def test_empty_track_fails_in_one_line(tmp_path, capfd, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    _refused(tmp_path, capfd, ["--track", f"acc={path}"], f"track acc ({path})", "is empty")


@pytest.mark.parametrize("text,needle", [
    (f"{CONTIG}\t100\t200\t1\n{CONTIG}\t50\t60\t1\n", "is not sorted by start (data line 2"),
    (f"{CONTIG}\t100\t200\t1\n{CONTIG}\t150\t260\t1\n", "has overlapping intervals (data line 2"),
    (f"{CONTIG}\t100\t200\t1\n{CONTIG}\t300\tx\t1\n", "'chrom start end value'"),
    ("chr9\t0\t10\t1\n", "match none of the genome's contigs"),
], ids=["unsorted", "overlapping", "malformed", "other-genome"])
def test_bad_bedgraph_fails_in_one_line(tmp_path, capfd, text, needle):
    path = tmp_path / "bad.bedGraph"
    path.write_text(text)
    _refused(tmp_path, capfd, ["--track", f"acc={path}"], "track acc", needle)


def test_not_a_track_fails_in_one_line(tmp_path, capfd):
    junk = tmp_path / "junk.bw"
    junk.write_bytes(bytes(range(256)) * 4)
    _refused(tmp_path, capfd, ["--track", f"acc={junk}"], "neither a bigWig nor a bedGraph")
    bigbed = tmp_path / "x.bb"
    bigbed.write_bytes(struct.pack("<I", 0x8789F2EB) + bytes(100))
    _refused(tmp_path, capfd, ["--track", f"acc={bigbed}"], "is a bigBed file, not a bigWig")
    _refused(tmp_path, capfd, ["--track", f"acc={tmp_path / 'absent.bw'}"], "track acc file not found")


@pytest.mark.parametrize("spec,needle", [
    ("phylop", "--track needs NAME=PATH"),
    ("9lives=x.bw", "is not a column name"),
    ("donor_score=x.bw", "column donor_score is already a column"),
], ids=["no-path", "bad-name", "clash"])
def test_bad_track_option_fails_in_one_line(tmp_path, capfd, spec, needle):
    _refused(tmp_path, capfd, ["--track", spec], needle)


def test_track_named_twice_is_refused(tracks):
    with pytest.raises(FastbuildError, match="--track names cons twice"):
        BuildConfig.from_options(tracks=(f"cons={tracks['bg']}", f"cons={tracks['bw']}"))


def test_bad_inputs_listed_are_tested():
    assert len(BAD_INPUTS) == len(set(BAD_INPUTS)) == 17
    assert pl.Series(BAD_INPUTS).str.contains("^[a-z0-9-]+$").all()
