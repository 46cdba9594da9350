"""``fastbuild prepare`` end to end: synthetic, the real Arabidopsis chr1 and the human slice."""

from __future__ import annotations

import json

import polars as pl
import pytest

from fastbuild.cli import main
from tests import synthetic
from tests.conftest import HUMAN_FASTA, HUMAN_TABLE, need


@pytest.fixture()
def synth(tmp_path):
    fa = synthetic.write_fasta(tmp_path / "g.fa")
    gtf = tmp_path / "a.gtf"
    gtf.write_text(synthetic.gtf_text())
    return fa, gtf


def test_prepare_synthetic(synth, tmp_path, capsys):
    fa, gtf = synth
    out = tmp_path / "ref"
    assert main(["prepare", "--fasta", str(fa), "--gtf", str(gtf), "--out", str(out), "--tsv"]) == 0
    text = capsys.readouterr().out
    assert "donors followed by GT/GC 100.0%" in text and "acceptors preceded by AG 100.0%" in text
    for name in ("genes", "transcripts", "exons", "introns", "splice_sites"):
        assert (out / f"{name}.parquet").exists()
    assert not list(out.glob("*.tmp"))
    gf = pl.read_csv(out / "gene_features.tsv", separator="\t")
    assert gf.columns == ["start", "end", "score", "strand", "gene_id", "gene_name", "gene_type", "gene_length",
                          "chrom"]
    ss = pl.read_csv(out / "splice_sites.tsv", separator="\t")
    assert ss.columns == ["chrom", "start", "end", "position", "strand", "site_type", "gene_id", "transcript_id"]
    assert (ss["end"] - ss["position"] == 2).all() and (ss["position"] - ss["start"] == 2).all()
    info = json.loads((out / "prepare_info.json").read_text())
    assert info["genes_written"] == 4 and info["sanity"]["intron_gt_ag"] == 1.0


def test_prepare_chr_prefix_reconciled(tmp_path, capsys):
    fa = synthetic.write_fasta(tmp_path / "g.fa", name="1")
    gtf = tmp_path / "a.gtf"
    gtf.write_text(synthetic.gtf_text(chrom="chr1"))
    out = tmp_path / "ref"
    assert main(["prepare", "--fasta", str(fa), "--gtf", str(gtf), "--out", str(out)]) == 0
    assert set(pl.read_parquet(out / "genes.parquet")["chrom"]) == {"1"}


def test_prepare_gene_on_missing_contig_is_skipped_and_counted(tmp_path, capsys, caplog):
    fa = synthetic.write_fasta(tmp_path / "g.fa")
    gtf = tmp_path / "a.gtf"
    extra = 'z\tsrc\tgene\t1\t10\t.\t+\t.\tgene_id "GZ";\n'
    gtf.write_text(synthetic.gtf_text() + extra)
    out = tmp_path / "ref"
    assert main(["prepare", "--fasta", str(fa), "--gtf", str(gtf), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "1 skipped (contig not in FASTA)" in captured.out
    assert "contigs absent from the FASTA (z)" in caplog.text


BAD = {
    "missing file": (lambda d: ["--fasta", str(d / "none.fa")], "FASTA file not found"),
    "contig mismatch": (lambda d: ["--gtf", str(_write(d / "m.gtf", synthetic.gtf_text(chrom="q")))],
                        "no annotation contig matches a FASTA contig: annotation has q, FASTA has c"),
    "truncated line": (lambda d: ["--gtf", str(_write(d / "t.gtf", synthetic.gtf_text() + "c\tsrc\texon\t1\n"))],
                       r"t.gtf:\d+: expected 9 tab-separated GTF fields"),
    "unknown strand": (lambda d: ["--gtf", _edited(d / "s.gtf", "\t-\t", "\t*\t")],
                       r"s.gtf:\d+: unknown strand '\*'"),
    "end < start": (lambda d: ["--gtf", _edited(d / "e.gtf", "\t11\t30\t", "\t30\t11\t")],
                    r"e.gtf:\d+: end 11 < start 30"),
}


def _write(path, text):
    path.write_text(text)
    return path


def _edited(path, old, new) -> str:
    """The synthetic GTF with the first ``old`` replaced by ``new``, written to ``path``."""
    return str(_write(path, synthetic.gtf_text().replace(old, new, 1)))


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_error(synth, tmp_path, capsys, case):
    fa, gtf = synth
    make, message = BAD[case]
    args = {"--fasta": str(fa), "--gtf": str(gtf), "--out": str(tmp_path / "ref")}
    over = make(tmp_path)
    args.update(dict(zip(over[::2], over[1::2], strict=True)))
    argv = ["prepare"] + [x for kv in args.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fastbuild: error: ")
    assert pytest.importorskip("re").search(message, err[0]), err[0]
    assert not (tmp_path / "ref" / "genes.parquet").exists()


@pytest.mark.realdata
def test_prepare_arabidopsis_chr1(ath_reference):
    _out, s = ath_reference
    assert s["genes_in_annotation"] == 9701
    skipped = s["genes_skipped_contig_not_in_fasta"] + s["genes_skipped_outside_fasta_sequence"]
    assert s["genes_written"] + skipped == 9701
    assert s["sanity"]["intron_gt_ag"] >= 0.98
    assert s["introns_written"] > 71_000
    assert s["seconds"] < 60


@pytest.mark.realdata
def test_prepare_human_slice_convention(tmp_path):
    need(HUMAN_FASTA, HUMAN_TABLE)
    out = tmp_path / "ref"
    assert main(["prepare", "--fasta", str(HUMAN_FASTA), "--gtf", str(HUMAN_TABLE), "--out", str(out)]) == 0
    info = json.loads((out / "prepare_info.json").read_text())
    assert info["introns_written"] >= 100
    # a one-off error anywhere in the convention gives ~0% here
    assert info["sanity"]["intron_gt_ag"] >= 0.94
    assert info["genes_in_annotation"] == 20274
