"""Annotation parsing (GTF, GFF3, SpliceAI table) and the splice-site convention."""

from __future__ import annotations

import gzip

import polars as pl
import pytest

from fastbuild.annotation import detect_format, load_annotation
from fastbuild.errors import FastbuildError
from tests import synthetic


def sites_of(ann, gene_id, site_type):
    s = ann.splice_sites.filter((pl.col("gene_id") == gene_id) & (pl.col("site_type") == site_type))
    return sorted(set(s["position"].to_list()))


@pytest.fixture(params=["gtf", "gff3"])
def gtf_or_gff(tmp_path, request):
    text = synthetic.gtf_text() if request.param == "gtf" else synthetic.gff3_text()
    path = tmp_path / f"a.{request.param}"
    path.write_text(text)
    return path


def test_sites_follow_spliceai_convention(gtf_or_gff):
    ann = load_annotation(gtf_or_gff)
    for gene in ("G1", "G2"):
        assert sites_of(ann, gene, "donor") == synthetic.DONORS[gene]
        assert sites_of(ann, gene, "acceptor") == synthetic.ACCEPTORS[gene]
    # one row per transcript x site: T1 and T2 share donor 30 and acceptor 91
    assert ann.splice_sites.filter(pl.col("position") == 30).height == 2


def test_gene_table(gtf_or_gff):
    ann = load_annotation(gtf_or_gff)
    g = {r["gene_id"]: r for r in ann.genes.iter_rows(named=True)}
    assert set(g) == {"G1", "G2", "G3", "G4"}
    assert (g["G1"]["start"], g["G1"]["end"], g["G1"]["gene_length"]) == (11, 110, 100)
    assert g["G1"]["n_transcripts"] == 2 and g["G1"]["n_exons"] == 3
    assert (g["G1"]["n_splice_sites"], g["G1"]["donor_sites"], g["G1"]["acceptor_sites"]) == (4, 2, 2)
    assert g["G1"]["splice_density_per_kb"] == pytest.approx(4 / 0.1)
    assert g["G1"]["gene_name"] == "NG1" and g["G2"]["gene_type"] == "lncRNA"
    assert g["G3"]["n_transcripts"] == 0 and g["G3"]["n_splice_sites"] == 0
    assert [g[k]["num_overlaps"] for k in ("G1", "G2", "G3", "G4")] == [1, 1, 2, 0]
    s = ann.summary
    assert s["genes_without_transcripts"] == 1
    assert s["single_exon_transcripts"] == 1
    assert s["zero_length_introns"] == 1
    assert s["introns"] == 4  # T1: 2, T2: 1, T3: 1


def test_exon_numbers_in_transcript_orientation(gtf_or_gff):
    ann = load_annotation(gtf_or_gff)
    t3 = ann.exons.filter(pl.col("transcript_id") == "T3").sort("start")
    assert t3["exon_number"].to_list() == [2, 1]


def test_spliceai_table(tmp_path):
    path = tmp_path / "table.txt"
    path.write_text(synthetic.spliceai_table_text())
    assert detect_format(path) == "spliceai"
    ann = load_annotation(path)
    assert sites_of(ann, "G1", "donor") == [30, 70] and sites_of(ann, "G1", "acceptor") == [51, 91]
    assert sites_of(ann, "G2", "donor") == [161] and sites_of(ann, "G2", "acceptor") == [140]
    g1 = ann.genes.filter(pl.col("gene_id") == "G1").row(0, named=True)
    assert (g1["start"], g1["end"]) == (11, 110)


def test_gzip_annotation(tmp_path):
    path = tmp_path / "a.gtf.gz"
    path.write_bytes(gzip.compress(synthetic.gtf_text().encode()))
    assert load_annotation(path).genes.height == 4


BAD_LINES = {
    "truncated": ("c\tsrc\texon\t11\t30\t.\t+", "expected 9 tab-separated GTF fields, found 7"),
    "strand": ('c\tsrc\texon\t11\t30\t.\t?\t.\tgene_id "G9"; transcript_id "T9";', "unknown strand '?'"),
    "end<start": ('c\tsrc\texon\t30\t11\t.\t+\t.\tgene_id "G9"; transcript_id "T9";', "end 11 < start 30"),
    "not-int": ('c\tsrc\texon\tx\t11\t.\t+\t.\tgene_id "G9"; transcript_id "T9";', "not integers"),
}


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_malformed_line_is_an_error_with_line_number(tmp_path, kind):
    line, message = BAD_LINES[kind]
    text = synthetic.gtf_text().splitlines()
    text.insert(3, line)  # becomes line 4
    path = tmp_path / "bad.gtf"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(FastbuildError, match=rf"bad.gtf:4: .*{message}.*--skip-malformed"):
        load_annotation(path)
    ann = load_annotation(path, skip_malformed=True)
    assert ann.summary["malformed_lines"] == 1
    assert "bad.gtf:4" in ann.summary["malformed_examples"][0]
    assert ann.genes.height == 4


def test_missing_annotation(tmp_path):
    with pytest.raises(FastbuildError, match="annotation file not found"):
        load_annotation(tmp_path / "none.gtf")
