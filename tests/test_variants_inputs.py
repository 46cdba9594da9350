"""fastbuild variants on bad or unusual input: one clear line, nothing half-written; unscorable records pass through."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest

from fastbuild.errors import FastbuildError
from tests.conftest import HUMAN_TABLE, SHARED_DATA, need
from tests.test_variants import HEADER, TEST_FA, _weights, info_entries, records, run

GENE = "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\nBIG\t10\t+\t0\t110000\t0,94500,\t94100,110000,\n"
SNV = "10\t94077\t.\tA\tC\t.\t.\t.\n"


@pytest.fixture
def setup(tmp_path):
    """(tmp_path, FASTA, annotation) with one gene over the whole test contig; weights required."""
    need(TEST_FA)
    _weights()
    table = tmp_path / "big.txt"
    table.write_text(GENE)
    return tmp_path, TEST_FA, table


def _fails(tmp_path, text: str | bytes, match: str, fasta=TEST_FA, annotation=None, name="in.vcf"):
    src = tmp_path / name
    src.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(FastbuildError, match=match):
        run(tmp_path, src, fasta, annotation or tmp_path / "big.txt")
    assert not (tmp_path / "out.vcf").exists()
    assert not (tmp_path / "out.vcf.parts").exists()


def _reason(out, key="SKIP") -> list:
    return [info_entries(line, key) for line in records(out)]


def test_malformed_line_names_its_number(setup):
    tmp, _, _ = setup
    _fails(tmp, HEADER + SNV + "10\tabc\t.\tA\tC\t.\t.\t.\n", r"in\.vcf:4: malformed VCF record: position 'abc'")
    _fails(tmp, HEADER + SNV + "10\t5\t.\tA\n", r"in\.vcf:4: malformed VCF record: 4 tab-separated columns")
    _fails(tmp, HEADER + "10\t94077\t.\tA\tC;G\t.\t.\t.\n", r"in\.vcf:3: malformed VCF record: ALT 'C;G'")


def test_missing_or_garbled_header(setup):
    tmp, _, _ = setup
    _fails(tmp, SNV, r"in\.vcf:1: not a VCF header")
    _fails(tmp, "##fileformat=VCFv4.2\n" + SNV, r"in\.vcf:2: expected the #CHROM header line")
    _fails(tmp, "##fileformat=VCFv4.2\n#CHROM POS ID REF ALT QUAL FILTER INFO\n" + SNV,
           r"in\.vcf:2: expected the #CHROM header line")
    _fails(tmp, "", r"is empty \(no header\)")


def test_truncated_bgzip(setup):
    tmp, _, _ = setup
    data = gzip.compress((HEADER + SNV * 2000).encode())
    _fails(tmp, data[: len(data) // 2], "gzip/bgzip stream is truncated or damaged", name="in.vcf.gz")


def test_bgzip_input_reads(setup):
    tmp, fasta, table = setup
    src = tmp / "in.vcf.gz"
    src.write_bytes(gzip.compress((HEADER + SNV).encode()))
    out = run(tmp, src, fasta, table)
    assert info_entries(records(out)[0])[0].startswith("C|BIG|")


def test_symbolic_and_breakend_alleles_skipped_with_reason(setup):
    tmp, fasta, table = setup
    body = ("10\t94000\t.\tT\t<DEL>\t.\t.\tSVTYPE=DEL\n10\t94001\t.\tC\tN[chr2:5[\t.\t.\t.\n"
            "10\t94002\t.\tC\t*\t.\t.\t.\n10\t94003\t.\tG\t.\t.\t.\t.\n10\t94008\t.\tT\tC,<DEL>\t.\t.\t.\n")
    out = run(tmp, HEADER + body, fasta, table, reason_tag="SKIP", reasons=str(tmp / "why.tsv"))
    assert _reason(out) == [["symbolic_allele"], ["breakend_allele"], ["missing_allele"], ["missing_allele"], []]
    assert [len(info_entries(line)) for line in records(out)] == [0, 0, 0, 0, 1]
    why = (tmp / "why.tsv").read_text().splitlines()
    assert why[0] == "line\tchrom\tpos\tref\talt\treason" and why[-1].endswith("\t<DEL>\tsymbolic_allele")
    assert records(out)[0].endswith("SVTYPE=DEL;SKIP=symbolic_allele")


def test_ref_disagreeing_with_fasta(setup):
    tmp, fasta, table = setup
    out = run(tmp, HEADER + "10\t94077\t.\tG\tC\t.\t.\t.\n10\t94004\t.\tc\tA\t.\t.\t.\n" + SNV, fasta, table,
              reason_tag="SKIP")
    assert _reason(out) == [["ref_mismatch"], ["ref_mismatch"], []]  # lower-case REF never matches (as SpliceAI)


def test_chr_prefix_reconciled(setup):
    """VCF '10' and 'chr10' both reach the FASTA's chr10 and the annotation's 10, as prepare matches them."""
    tmp, fasta, table = setup
    out = run(tmp, HEADER + SNV + SNV.replace("10\t", "chr10\t", 1) + "11\t94077\t.\tA\tC\t.\t.\t.\n", fasta, table,
              reason_tag="SKIP")
    lines = records(out)
    assert info_entries(lines[0]) == info_entries(lines[1]) != []
    assert _reason(out)[2] == ["unknown_contig"]


def test_unsorted_vcf_keeps_input_order(setup, caplog):
    tmp, fasta, table = setup
    body = "10\t94555\t.\tC\tT\t.\t.\t.\n" + SNV + "10\t94000\t.\tT\tA\t.\t.\t.\n"
    out = run(tmp, HEADER + body, fasta, table, chunk_records=1)
    assert [line.split("\t")[1] for line in records(out)] == ["94555", "94077", "94000"]
    assert "is not sorted (line 4)" in caplog.text


def test_huge_indels_and_contig_ends(setup):
    tmp, fasta, table = setup
    seq = "".join(line.strip() for line in TEST_FA.read_text().splitlines()[1:])
    ref = seq[93999:93999 + 102].upper()
    body = (f"10\t94000\t.\t{ref}\tT\t.\t.\t.\n10\t94000\t.\t{ref[:101]}\tT\t.\t.\t.\n"
            f"10\t94000\t.\tT\tT{'ACGT' * 40}\t.\t.\t.\n10\t5050\t.\tN\tA\t.\t.\t.\n10\t104951\t.\tG\tA\t.\t.\t.\n")
    out = run(tmp, HEADER + body, fasta, table, reason_tag="SKIP")
    assert _reason(out) == [["deletion_too_long"], [], [], ["near_contig_end"], ["near_contig_end"]]


def test_deletion_longer_than_the_models_flank_is_skipped(tmp_path):
    """With a short-flank model (OpenSpliceAI 80 nt: flank 40) a deletion of more than D + flank
    bases reaches past the window: that allele is skipped with a reason, on either strand, and the
    job goes on (it used to stop on a minus-strand gene)."""
    model = SHARED_DATA / "openspliceai_models" / "arabidopsis" / "80nt"
    need(TEST_FA, model)
    seq = "".join(line.strip() for line in TEST_FA.read_text().splitlines()[1:])
    ref = seq[93999:93999 + 96].upper()  # 95 deleted bases > D + flank = 90, <= 2D
    for strand in "+-":
        table = tmp_path / f"g{strand}.txt"
        table.write_text(GENE.replace("\t+\t", f"\t{strand}\t"))
        body = f"10\t94000\t.\t{ref}\t{ref[0]}\t.\t.\t.\n10\t94077\t.\tA\tC\t.\t.\t.\n"
        out = run(tmp_path, HEADER + body, TEST_FA, table, model=str(model), reason_tag="SKIP")
        assert _reason(out) == [["deletion_too_long"], []]
        assert info_entries(records(out)[1], "SpliceAI")[0].startswith("C|BIG|")


def test_outside_every_gene_passes_through(tmp_path):
    need(TEST_FA, HUMAN_TABLE)
    _weights()
    out = run(tmp_path, HEADER + "10\t70000\t.\tT\tA\t.\t.\t.\n" + SNV, TEST_FA, HUMAN_TABLE, reason_tag="SKIP")
    lines = records(out)
    assert lines[0] == "10\t70000\t.\tT\tA\t.\t.\tSKIP=outside_genes"
    assert info_entries(lines[1])[0].startswith("C|TUBB8|")


def test_empty_vcf(setup):
    tmp, fasta, table = setup
    out = run(tmp, HEADER, fasta, table)
    text = out.read_text().splitlines()
    assert text[-1].startswith("#CHROM") and any(t.startswith("##INFO=<ID=SpliceAI,") for t in text)


def test_command_line_error_is_one_line(tmp_path):
    need(TEST_FA)
    src = tmp_path / "in.vcf"
    src.write_text(HEADER + "10\tabc\t.\tA\tC\t.\t.\t.\n")
    p = subprocess.run([sys.executable, "-m", "fastbuild", "variants", "-I", str(src), "-O", str(tmp_path / "o.vcf"),
                        "-R", str(TEST_FA), "-A", str(SHARED_DATA / "human_grch37" / "grch37.txt"),
                        "--no-progress"], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines()[-1].endswith("in.vcf:3: malformed VCF record: position 'abc' is not a "
                                                      "number >= 1")
    assert "Traceback" not in p.stderr and not (tmp_path / "o.vcf").exists()
