"""Bad annotation / FASTA / reference-table / gene-id / alias inputs: one-line errors or correct output.

Every kind of bad input tested here is listed in :data:`BAD_INPUTS`, and each is a test case
id (see :func:`test_every_bad_input_kind_is_a_test_case`). Unit cases check that a
:class:`FastbuildError` is raised with a one-line message naming the file; behaviour cases
check that bad-but-readable input gives correct tables (never an invented intron); CLI cases
run ``python -m fastbuild`` and check exit status 2, one stderr line, no traceback and no
finished-looking output.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from fastbuild import atomic
from fastbuild.annotation import load_annotation
from fastbuild.contigs import read_alias_file
from fastbuild.errors import FastbuildError
from fastbuild.genome import Genome
from fastbuild.prepare import PrepareConfig, prepare
from fastbuild.reference import prepared_fasta, read_reference_table
from fastbuild.selection import SelectionSpec, choose_genes, read_gene_ids
from tests import synthetic

REPO = Path(__file__).resolve().parents[1]

BAD_INPUTS = [
    # annotation files
    "gtf-empty", "gtf-only-comments", "gtf-no-exon-records", "gtf-all-lines-skipped",
    "gtf-non-numeric-coordinates", "gtf-start-after-end", "gtf-start-zero", "gtf-directory",
    "gtf-gzip-truncated", "gtf-gzip-corrupt", "gff3-orphan-exons", "spliceai-duplicate-name",
    "gtf-shared-transcript-id", "gff3-shared-transcript-id", "gff3-same-transcript-id-in-one-gene",
    "gtf-gene-on-two-contigs", "gtf-skipped-exon-line", "spliceai-skipped-bad-exon", "gtf-not-utf8",
    # FASTA files
    "fasta-no-header", "fasta-empty", "fasta-binary", "fasta-directory", "fasta-gzip-truncated",
    "fasta-gzip-corrupt", "fasta-duplicate-record", "fasta-overlapping-regions",
    "fasta-whitespace-in-sequence", "fasta-no-gene-inside",
    # reference tables of fastbuild prepare
    "reference-table-truncated", "reference-table-not-parquet", "reference-table-empty-file",
    "reference-table-damaged-page", "reference-table-missing-column", "reference-table-wrong-type",
    "reference-table-null-values", "reference-table-bad-strand", "reference-table-no-genes",
    "reference-table-missing", "reference-info-not-json", "reference-info-no-fasta",
    "reference-folder-is-file", "prepare-write-fails-midway",
    # gene-id and alias files
    "gene-ids-non-utf8", "gene-ids-directory", "gene-ids-empty", "gene-ids-only-header",
    "gene-ids-short-row", "gene-ids-none-in-annotation", "alias-non-utf8", "alias-conflicting", "alias-empty",
]


# ---------------------------------------------------------------------------- helpers
def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _exon(gene, tx, start, end, chrom="c", strand="+") -> str:
    return f'{chrom}\tsrc\texon\t{start}\t{end}\t.\t{strand}\t.\tgene_id "{gene}"; transcript_id "{tx}";'


def _gtf_with(d: Path, line: str) -> Path:
    """The synthetic GTF with ``line`` appended."""
    return _write(d / "bad.gtf", synthetic.gtf_text() + line + "\n")


def _corrupt_gzip(text: bytes) -> bytes:
    data = bytearray(gzip.compress(text))
    for i in range(12, min(len(data) - 8, 40)):
        data[i] ^= 0xFF
    return bytes(data)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """A good ``fastbuild prepare`` output of the synthetic genome (made once)."""
    d = tmp_path_factory.mktemp("good_ref")
    fa = synthetic.write_fasta(d / "g.fa")
    gtf = _write(d / "a.gtf", synthetic.gtf_text())
    prepare(PrepareConfig(fasta=str(fa), annotation=str(gtf), out=str(d / "ref")))
    return d / "ref"


def _copy_ref(reference: Path, d: Path) -> Path:
    out = d / "ref"
    shutil.copytree(reference, out)
    return out


def _rewrite(ref: Path, name: str, fn) -> Path:
    """Replace table ``name`` of ``ref`` by ``fn(table)`` (written with pyarrow)."""
    path = ref / f"{name}.parquet"
    pq.write_table(fn(pl.read_parquet(path)).to_arrow(), path)
    return path


def _damage_page(ref: Path, name: str) -> Path:
    """Flip the last bytes of the first column chunk of table ``name`` (a data page; the footer stays intact)."""
    path = ref / f"{name}.parquet"
    col = pq.ParquetFile(path).metadata.row_group(0).column(0)
    first = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
    end = first + col.total_compressed_size
    data = bytearray(path.read_bytes())
    for i in range(end - 4, end):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def _assert_one_line(exc: pytest.ExceptionInfo, path, pattern: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    assert str(path) in msg, f"{path} not named in: {msg}"
    assert pytest.importorskip("re").search(pattern, msg), msg


# ---------------------------------------------------------------------------- unit: annotation
def _ann_case(make, pattern, skip=False):
    def run(d: Path):
        path = make(d)
        return path, (lambda: load_annotation(path, skip_malformed=skip)), pattern
    return run


ANNOTATION_CASES = {
    "gtf-empty": _ann_case(lambda d: _write(d / "e.gtf", ""), "has no data lines"),
    "gtf-only-comments": _ann_case(lambda d: _write(d / "c.gtf", "#a\n#b\n\n"), "has no data lines"),
    "gtf-no-exon-records": _ann_case(
        lambda d: _write(d / "g.gtf", 'c\tsrc\tgene\t1\t50\t.\t+\t.\tgene_id "G1";\n'),
        r"no usable exon records in 1 data lines"),
    "gtf-all-lines-skipped": _ann_case(
        lambda d: _write(d / "s.gtf", "junk\nmore junk\n"), r"no usable exon records: 2 of its 2 .* skipped", True),
    "gtf-non-numeric-coordinates": _ann_case(lambda d: _gtf_with(d, _exon("G9", "T9", "x1", 40)),
                                             r"bad.gtf:\d+: start/end are not integers"),
    "gtf-start-after-end": _ann_case(lambda d: _gtf_with(d, _exon("G9", "T9", 40, 20)), r"end 20 < start 40"),
    "gtf-start-zero": _ann_case(lambda d: _gtf_with(d, _exon("G9", "T9", 0, 20)), r"start 0 < 1"),
    "gtf-directory": _ann_case(lambda d: (d / "dir.gtf").mkdir() or d / "dir.gtf", "is a directory, not a file"),
    "gtf-gzip-truncated": _ann_case(
        lambda d: _write(d / "t.gtf.gz", gzip.compress(synthetic.gtf_text().encode())[:60]), "truncated"),
    "gtf-gzip-corrupt": _ann_case(
        lambda d: _write(d / "x.gtf.gz", _corrupt_gzip(synthetic.gtf_text().encode())), "gzip"),
    "gff3-orphan-exons": _ann_case(
        lambda d: _write(d / "o.gff3", "c\tsrc\texon\t1\t10\t.\t+\t.\tParent=transcript:nothere\n"),
        "no usable exon records"),
    "spliceai-duplicate-name": _ann_case(
        lambda d: _write(d / "t.txt", synthetic.spliceai_table_text() + "G1\tc\t+\t150\t180\t150,\t180,\n"),
        r"t.txt:4: gene G1 is already listed on line 2"),
}


@pytest.mark.parametrize("kind", list(ANNOTATION_CASES), ids=list(ANNOTATION_CASES))
def test_bad_annotation_is_one_line_error(tmp_path, kind):
    path, call, pattern = ANNOTATION_CASES[kind](tmp_path)
    with pytest.raises(FastbuildError) as exc:
        call()
    _assert_one_line(exc, path, pattern)


# ---------------------------------------------------------------------------- unit: FASTA
def _fasta_case(content: str | bytes, pattern: str, name: str = "bad.fa", fetch=None):
    def run(d: Path):
        path = d / name
        if content is None:
            path.mkdir()
        else:
            _write(path, content)

        def call():
            with Genome(path, cache_dir=d / "cache") as g:
                if fetch:
                    g.fetch(*fetch)
        return path, call, pattern
    return run


FASTA_CASES = {
    "fasta-no-header": _fasta_case("ACGT\nACGT\n", "cannot index FASTA .*before the first sequence"),
    "fasta-empty": _fasta_case("", "cannot index FASTA .*does not contain a valid sequence"),
    "fasta-binary": _fasta_case(bytes(range(128, 256)) * 8, "not a text FASTA file"),
    "fasta-directory": _fasta_case(None, "is a directory, not a file", name="dir.fa"),
    "fasta-gzip-truncated": _fasta_case(gzip.compress(b">c\n" + b"ACGT" * 500 + b"\n")[:40],
                                        "cannot decompress FASTA .*truncated", name="t.fa.gz"),
    "fasta-gzip-corrupt": _fasta_case(_corrupt_gzip(b">c\n" + b"ACGT" * 500 + b"\n"),
                                      "cannot decompress FASTA .*gzip", name="x.fa.gz"),
    "fasta-duplicate-record": _fasta_case(">c\nACGT\n>c\nACGT\n", "Duplicate key"),
    "fasta-overlapping-regions": _fasta_case(">c:1-4\nACGT\n>c:3-6\nGTAC\n", "records 'c:1-4' and 'c:3-6' overlap"),
    "fasta-whitespace-in-sequence": _fasta_case(">c\nACGT\nAC T\nACGT\n", "whitespace inside a sequence line",
                                                fetch=("c", 1, 12)),
}


@pytest.mark.parametrize("kind", list(FASTA_CASES), ids=list(FASTA_CASES))
def test_bad_fasta_is_one_line_error(tmp_path, kind):
    path, call, pattern = FASTA_CASES[kind](tmp_path)
    with pytest.raises(FastbuildError) as exc:
        call()
    _assert_one_line(exc, path, pattern)
    assert not list((tmp_path / "cache").glob("*.tmp*")) if (tmp_path / "cache").exists() else True


# ---------------------------------------------------------------------------- unit: reference tables
def _table_case(name: str, change, pattern: str):
    def run(ref: Path):
        path = change(ref) or ref / f"{name}.parquet"
        return path, (lambda: read_reference_table(ref, name)), pattern
    return run


def _replace_bytes(ref: Path, name: str, fn) -> Path:
    path = ref / f"{name}.parquet"
    path.write_bytes(fn(path.read_bytes()))
    return path


TABLE_CASES = {
    "reference-table-truncated": _table_case(
        "genes", lambda r: _replace_bytes(r, "genes", lambda b: b[: len(b) // 2]), "truncated"),
    "reference-table-not-parquet": _table_case(
        "splice_sites", lambda r: _replace_bytes(r, "splice_sites", lambda b: b"chrom\tposition\n"),
        "is not a Parquet file"),
    "reference-table-empty-file": _table_case(
        "exons", lambda r: _replace_bytes(r, "exons", lambda b: b""), r"is empty \(0 bytes\)"),
    "reference-table-damaged-page": _table_case("genes", lambda r: _damage_page(r, "genes"), "is damaged"),
    "reference-table-missing-column": _table_case(
        "genes", lambda r: _rewrite(r, "genes", lambda t: t.drop("strand")), r"lacks column\(s\) strand"),
    "reference-table-wrong-type": _table_case(
        "introns", lambda r: _rewrite(r, "introns", lambda t: t.with_columns(pl.col("donor").cast(pl.Utf8))),
        "column donor is String, expected Int64"),
    "reference-table-null-values": _table_case(
        "splice_sites", lambda r: _rewrite(r, "splice_sites", lambda t: t.with_columns(
            pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("gene_id")).alias("gene_id"))),
        "column gene_id has 1 null values"),
    "reference-table-bad-strand": _table_case(
        "transcripts", lambda r: _rewrite(r, "transcripts", lambda t: t.with_columns(strand=pl.lit("."))),
        r"column strand holds '\.'"),
    "reference-table-no-genes": _table_case("genes", lambda r: _rewrite(r, "genes", lambda t: t.head(0)),
                                            "has no genes"),
    "reference-table-missing": _table_case("exons", lambda r: (r / "exons.parquet").unlink(), "is missing"),
}


@pytest.mark.parametrize("kind", list(TABLE_CASES), ids=list(TABLE_CASES))
def test_bad_reference_table_is_one_line_error(reference, tmp_path, kind):
    ref = _copy_ref(reference, tmp_path)
    path, call, pattern = TABLE_CASES[kind](ref)
    with pytest.raises(FastbuildError) as exc:
        call()
    _assert_one_line(exc, path, pattern)


INFO_CASES = {
    "reference-info-not-json": (lambda r: _write(r / "prepare_info.json", "{"), "prepare_info.json",
                                "is not valid JSON"),
    "reference-info-no-fasta": (lambda r: _write(r / "prepare_info.json", json.dumps({"genes_written": 4})),
                                "prepare_info.json", "records no FASTA path"),
    "reference-folder-is-file": (lambda r: shutil.rmtree(r) or _write(r, "x"), "", "is a file; give the folder"),
}


@pytest.mark.parametrize("kind", list(INFO_CASES), ids=list(INFO_CASES))
def test_bad_reference_folder_is_one_line_error(reference, tmp_path, kind):
    ref = _copy_ref(reference, tmp_path)
    change, named, pattern = INFO_CASES[kind]
    change(ref)
    with pytest.raises(FastbuildError) as exc:
        prepared_fasta(ref)
    _assert_one_line(exc, ref / named if named else ref, pattern)


def test_good_reference_reads_back(reference):
    """Not a bad input: the checks accept what prepare writes (page checksums included)."""
    assert prepared_fasta(reference).startswith("/")
    genes = read_reference_table(reference, "genes")
    assert genes.height == 4 and genes["n_transcripts"].dtype == pl.Int32


# ---------------------------------------------------------------------------- unit: gene ids, aliases
TEXT_CASES = {
    "gene-ids-non-utf8": (read_gene_ids, b"G1\n\xff\xfeG2\n", r"not UTF-8 text \(byte 0xff on line 2\)"),
    "gene-ids-directory": (read_gene_ids, None, "is a directory, not a file"),
    "gene-ids-empty": (read_gene_ids, "\n# only a comment\n", "lists no gene ids"),
    "gene-ids-only-header": (read_gene_ids, "gene_id\tscore\n", r"lists no gene ids \(column 'gene_id'"),
    "gene-ids-short-row": (read_gene_ids, "name\tgene_id\nN1\tG1\nN2\n", r":3: 1 columns, no column 'gene_id'"),
    "alias-non-utf8": (read_alias_file, b"chr1 1\nchr\xe92 2\n", "not UTF-8 text"),
    "alias-conflicting": (read_alias_file, "chr1 1\nchr1 2\n", r":2: chr1 is already an alias of 1"),
    "alias-empty": (read_alias_file, "# nothing\n", "lists no name pairs"),
}


@pytest.mark.parametrize("kind", list(TEXT_CASES), ids=list(TEXT_CASES))
def test_bad_ids_or_alias_file_is_one_line_error(tmp_path, kind):
    reader, content, pattern = TEXT_CASES[kind]
    path = tmp_path / "list.txt"
    if content is None:
        path.mkdir()
    else:
        _write(path, content)
    with pytest.raises(FastbuildError) as exc:
        reader(path)
    _assert_one_line(exc, path, pattern)


def test_gene_ids_quoted_csv_and_bom(tmp_path):
    path = _write(tmp_path / "ids.csv", b'\xef\xbb\xbf"gene_id","x"\n"G1",1\r\n"G2",2\r\n')
    assert read_gene_ids(path) == ["G1", "G2"]


# ---------------------------------------------------------------------------- behaviour: no invented introns
def _shared_gtf(d: Path) -> Path:
    lines = [_exon("GA", "TX", 11, 30), _exon("GA", "TX", 51, 70), _exon("GB", "TX", 121, 140),
             _exon("GB", "TX", 161, 180)]
    return _write(d / "shared.gtf", "\n".join(lines) + "\n")


def _shared_gff3(d: Path) -> Path:
    rows = []
    for g, (a, b, c, e) in {"GA": (11, 30, 51, 70), "GB": (121, 140, 161, 180)}.items():
        rows += [f"c\tsrc\tgene\t{a}\t{e}\t.\t+\t.\tID=gene:{g}",
                 f"c\tsrc\tmRNA\t{a}\t{e}\t.\t+\t.\tID=transcript:{g}.1;Parent=gene:{g};transcript_id=TX",
                 f"c\tsrc\texon\t{a}\t{b}\t.\t+\t.\tParent=transcript:{g}.1",
                 f"c\tsrc\texon\t{c}\t{e}\t.\t+\t.\tParent=transcript:{g}.1"]
    return _write(d / "shared.gff3", "\n".join(rows) + "\n")


def _check_shared_transcript_id(tmp_path, caplog, make) -> None:
    """Two genes using one transcript id: one transcript each, no intron between the genes."""
    ann = load_annotation(make(tmp_path))
    assert ann.transcripts.select("gene_id", "transcript_id").sort("gene_id").rows() == [("GA", "TX"), ("GB", "TX")]
    introns = ann.introns.sort("start").select("gene_id", "start", "end").rows()
    assert introns == [("GA", 31, 50), ("GB", 141, 160)]  # nothing spans 71..120 between the genes
    assert ann.summary["transcript_ids_shared_by_genes"] == 1
    g = {r["gene_id"]: (r["start"], r["end"]) for r in ann.genes.iter_rows(named=True)}
    assert g == {"GA": (11, 70), "GB": (121, 180)}
    if make is _shared_gtf:
        assert "TX (gene GA at line 1, gene GB at line 3)" in caplog.text


def _check_same_transcript_id_in_one_gene(tmp_path, caplog) -> None:
    """Two GFF3 mRNAs of one gene with the same transcript_id attribute stay two transcripts."""
    rows = ["c\tsrc\tgene\t11\t110\t.\t+\t.\tID=gene:G",
            "c\tsrc\tmRNA\t11\t70\t.\t+\t.\tID=rna-a;Parent=gene:G;transcript_id=T",
            "c\tsrc\texon\t11\t30\t.\t+\t.\tParent=rna-a", "c\tsrc\texon\t51\t70\t.\t+\t.\tParent=rna-a",
            "c\tsrc\tmRNA\t81\t110\t.\t+\t.\tID=rna-b;Parent=gene:G;transcript_id=T",
            "c\tsrc\texon\t81\t90\t.\t+\t.\tParent=rna-b", "c\tsrc\texon\t101\t110\t.\t+\t.\tParent=rna-b"]
    ann = load_annotation(_write(tmp_path / "one.gff3", "\n".join(rows) + "\n"))
    assert ann.transcripts.height == 2
    assert ann.introns.sort("start").select("start", "end").rows() == [(31, 50), (91, 100)]


def _check_gene_on_two_contigs(tmp_path, caplog) -> None:
    """One gene id on two contigs is skipped, not given a span joining both."""
    text = synthetic.gtf_text() + _exon("GX", "TX1", 10, 20) + "\n" + _exon("GX", "TX2", 30, 40, chrom="d") + "\n"
    ann = load_annotation(_write(tmp_path / "two.gtf", text))
    assert "GX" not in ann.genes["gene_id"].to_list() and ann.genes.height == 4
    assert ann.summary["genes_on_several_contigs_or_strands"] == 1
    assert "several contigs or strands (e.g. GX)" in caplog.text


def _check_skipped_exon_line(tmp_path, caplog) -> None:
    """A skipped malformed exon of T1 must not leave T1 with an intron over the missing exon."""
    text = synthetic.gtf_text().replace('\t51\t70\t.\t+\t.\tgene_id "G1"; transcript_id "T1";',
                                        '\t51\tseventy\t.\t+\t.\tgene_id "G1"; transcript_id "T1";', 1)
    ann = load_annotation(_write(tmp_path / "skip.gtf", text), skip_malformed=True)
    assert "T1" not in ann.transcripts["transcript_id"].to_list()
    # kept, T1 would have one intron 31..90 over its missing exon 51..70
    assert ann.introns.sort("start").select("transcript_id", "start", "end").rows() == [("T2", 31, 90),
                                                                                        ("T3", 141, 160)]
    assert ann.summary["transcripts_dropped_for_malformed_lines"] == 1
    assert "1 transcripts of" in caplog.text


def _check_spliceai_bad_exon(tmp_path, caplog) -> None:
    """A SpliceAI row with one bad exon is skipped whole (not kept without that exon)."""
    text = synthetic.spliceai_table_text().replace("50,90,", "50,x,", 1)
    ann = load_annotation(_write(tmp_path / "t.txt", text), skip_malformed=True)
    assert ann.genes["gene_id"].to_list() == ["G2"] and ann.summary["malformed_lines"] == 1


def _check_gtf_not_utf8(tmp_path, caplog) -> None:
    """A Latin-1 byte in a GTF is read (replaced), but counted and warned about, not silent."""
    text = synthetic.gtf_text().replace('gene_name "NG1"', 'gene_name "NG1\xe9"', 1).encode("latin-1")
    ann = load_annotation(_write(tmp_path / "latin1.gtf", text))
    assert ann.genes.height == 4 and ann.summary["lines_not_utf8"] == 1
    assert "1 lines hold bytes that are not UTF-8" in caplog.text


def _check_ids_none_in_annotation(tmp_path, caplog, reference) -> None:
    """An ids file whose ids all miss the annotation says so (not just "nothing matched")."""
    ids = _write(tmp_path / "ids.txt", "NOPE1\nNOPE2\n")
    genes = read_reference_table(reference, "genes")
    spec = SelectionSpec(subset_policy="custom", gene_ids_file=str(ids))
    with pytest.raises(FastbuildError) as exc:
        choose_genes(spec, genes, genes["gene_id"].to_list())
    _assert_one_line(exc, ids, "none of the 2 gene ids in .* is in the annotation")


def _check_no_gene_inside_fasta(tmp_path, caplog) -> None:
    """A FASTA whose only record is empty leaves no gene: prepare refuses and writes no tables."""
    fa = _write(tmp_path / "short.fa", ">c\n")
    gtf = _write(tmp_path / "a.gtf", synthetic.gtf_text())
    with pytest.raises(FastbuildError) as exc:
        prepare(PrepareConfig(fasta=str(fa), annotation=str(gtf), out=str(tmp_path / "ref")))
    _assert_one_line(exc, fa, r"no annotated gene with exons lies inside FASTA .*4 beyond its sequence")
    assert not (tmp_path / "ref" / "prepare_info.json").exists()
    assert not list((tmp_path / "ref").glob("*.parquet"))


def _check_failed_rewrite(tmp_path, caplog, reference) -> None:
    """A rerun of prepare that dies after some tables leaves no prepare_info.json behind."""
    ref = _copy_ref(reference, tmp_path)
    fasta = prepared_fasta(ref)
    gtf = _write(tmp_path / "a.gtf", synthetic.gtf_text())
    real, calls = atomic.write_parquet, []

    def failing(table, path, **kw):
        calls.append(path)
        if len(calls) == 3:
            raise FastbuildError(f"cannot write {path}: the disk is full")
        real(table, path, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(atomic, "write_parquet", failing)
        with pytest.raises(FastbuildError, match="the disk is full"):
            prepare(PrepareConfig(fasta=fasta, annotation=str(gtf), out=str(ref)))
    assert not (ref / "prepare_info.json").exists()
    with pytest.raises(FastbuildError, match="not a fastbuild prepare output"):
        prepared_fasta(ref)


BEHAVIOUR_CASES = {
    "gtf-shared-transcript-id": lambda d, log, ref: _check_shared_transcript_id(d, log, _shared_gtf),
    "gff3-shared-transcript-id": lambda d, log, ref: _check_shared_transcript_id(d, log, _shared_gff3),
    "gff3-same-transcript-id-in-one-gene": lambda d, log, ref: _check_same_transcript_id_in_one_gene(d, log),
    "gtf-gene-on-two-contigs": lambda d, log, ref: _check_gene_on_two_contigs(d, log),
    "gtf-skipped-exon-line": lambda d, log, ref: _check_skipped_exon_line(d, log),
    "spliceai-skipped-bad-exon": lambda d, log, ref: _check_spliceai_bad_exon(d, log),
    "gtf-not-utf8": lambda d, log, ref: _check_gtf_not_utf8(d, log),
    "gene-ids-none-in-annotation": lambda d, log, ref: _check_ids_none_in_annotation(d, log, ref),
    "fasta-no-gene-inside": lambda d, log, ref: _check_no_gene_inside_fasta(d, log),
    "prepare-write-fails-midway": lambda d, log, ref: _check_failed_rewrite(d, log, ref),
}
"""Bad but readable inputs: the output must be right (or nothing at all), checked by each function."""


@pytest.mark.parametrize("kind", list(BEHAVIOUR_CASES), ids=list(BEHAVIOUR_CASES))
def test_bad_input_gives_correct_output_or_nothing(reference, tmp_path, caplog, kind):
    with caplog.at_level("WARNING"):
        BEHAVIOUR_CASES[kind](tmp_path, caplog, reference)


# ---------------------------------------------------------------------------- CLI
def _cli_prepare(d: Path, reference: Path, kind: str) -> list[str]:
    fa = synthetic.write_fasta(d / "g.fa")
    gtf = {"gtf-empty": lambda: _write(d / "e.gtf", ""),
           "gtf-gzip-corrupt": lambda: _write(d / "x.gtf.gz", _corrupt_gzip(synthetic.gtf_text().encode())),
           }.get(kind, lambda: _write(d / "a.gtf", synthetic.gtf_text()))()
    if kind == "fasta-no-header":
        fa = _write(d / "n.fa", "ACGT\n")
    return ["prepare", "--fasta", str(fa), "--gtf", str(gtf), "--out", str(d / "out")]


def _cli_build(d: Path, reference: Path, kind: str) -> list[str]:
    ref = _copy_ref(reference, d)
    extra = []
    if kind == "reference-table-truncated":
        _replace_bytes(ref, "genes", lambda b: b[:100])
    elif kind == "reference-table-missing-column":
        _rewrite(ref, "splice_sites", lambda t: t.drop("site_type"))
    else:
        ids = d / "ids.txt"
        {"gene-ids-non-utf8": lambda: _write(ids, b"\xff\n"), "gene-ids-directory": ids.mkdir,
         "gene-ids-empty": lambda: _write(ids, "")}[kind]()
        extra = ["--subset-policy", "custom", "--gene-ids-file", str(ids)]
    return ["build", "--reference", str(ref), "--output-dir", str(d / "out"), "--no-progress", *extra]


CLI_CASES = {
    "gtf-empty": (_cli_prepare, "has no data lines"),
    "gtf-gzip-corrupt": (_cli_prepare, "corrupt gzip data"),
    "fasta-no-header": (_cli_prepare, "cannot index FASTA"),
    "reference-table-truncated": (_cli_build, "genes.parquet is truncated"),
    "reference-table-missing-column": (_cli_build, r"lacks column\(s\) site_type"),
    "gene-ids-non-utf8": (_cli_build, "not UTF-8 text"),
    "gene-ids-directory": (_cli_build, "is a directory, not a file"),
    "gene-ids-empty": (_cli_build, "lists no gene ids"),
}
FINISHED_LOOKING = ("prepare_info.json", "*.parquet", "build_info.json", "build_config.json", "manifest*", "master")


@pytest.mark.parametrize("kind", list(CLI_CASES), ids=list(CLI_CASES))
def test_cli_bad_input_one_stderr_line(reference, tmp_path, kind):
    make, pattern = CLI_CASES[kind]
    argv = make(tmp_path, reference, kind)
    env = {**os.environ, "FASTBUILD_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "fastbuild", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(err) == 1, proc.stderr
    assert err[0].startswith("fastbuild: error: ")
    assert pytest.importorskip("re").search(pattern, err[0]), err[0]
    out = tmp_path / "out"
    left = [p for pat in FINISHED_LOOKING for p in out.glob(pat)] if out.exists() else []
    assert not left, left


# ---------------------------------------------------------------------------- the list is the tests
def test_every_bad_input_kind_is_a_test_case():
    assert len(BAD_INPUTS) == len(set(BAD_INPUTS))
    covered = (set(ANNOTATION_CASES) | set(FASTA_CASES) | set(TABLE_CASES) | set(INFO_CASES) | set(TEXT_CASES)
               | set(BEHAVIOUR_CASES))
    assert covered == set(BAD_INPUTS)
    assert set(CLI_CASES) <= set(BAD_INPUTS)
