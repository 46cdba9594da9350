"""fastbuild variants: SpliceAI 1.3.1's numbers and rules (published cases, the oracle fixture, edge rules).

The fixture ``tests/data/variants/oracle_D{D}_M{M}.{in,out}.vcf`` was made by SpliceAI 1.3.1's own
CLI (``benchmarks/spliceai_oracle/make_fixture.py``); these tests need no TensorFlow, only the
SpliceAI weights (extra ``spliceai``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import HUMAN_FASTA, HUMAN_TABLE, SHARED_DATA, need

DATA = Path(__file__).parent / "data" / "variants"
TEST_FA = SHARED_DATA / "spliceai_test" / "test.fa"
TEST_FA_NO_PREFIX = SHARED_DATA / "spliceai_test" / "test_without_prefix.fa"
HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
PUBLISHED = {
    ("10", 94077, "A", "C"): "C|TUBB8|0.15|0.27|0.00|0.05|89|-23|-267|193",
    ("10", 94555, "C", "T"): "T|TUBB8|0.01|0.18|0.15|0.62|-2|110|-190|0",
}
SETTINGS = [(50, 0), (50, 1), (500, 0), (500, 1)]


def _weights():
    from fastbuild.basemodel import find_spliceai_weights
    from fastbuild.errors import FastbuildError

    try:
        return find_spliceai_weights()
    except FastbuildError as exc:
        pytest.skip(f"SpliceAI weights not installed (extra fastbuild-splice[spliceai]): {exc}")


@pytest.fixture(scope="session")
def chr22_fasta(tmp_path_factory):
    """The GRCh37 chr22 slice at its real coordinates (contig 22, N up to 20,000,000), as the oracle read it."""
    need(HUMAN_FASTA)
    lines = HUMAN_FASTA.read_text().splitlines()
    seq = "".join(lines[1:])
    path = tmp_path_factory.mktemp("chr22") / "chr22.fa"
    full = "N" * 20_000_000 + seq
    with open(path, "w") as fh:
        fh.write(">22\n")
        for i in range(0, len(full), 60):
            fh.write(full[i:i + 60] + "\n")
    return path


def info_entries(line: str, key: str = "SpliceAI") -> list[str]:
    """The entries of ``key`` in a VCF record line (empty when absent)."""
    for item in line.rstrip("\n").split("\t")[7].split(";"):
        name, _, value = item.partition("=")
        if name == key:
            return value.split(",")
    return []


def records(path: Path) -> list[str]:
    return [line for line in Path(path).read_text().splitlines() if line and not line.startswith("#")]


def run(tmp_path, vcf_text_or_path, fasta, annotation, distance=50, mask=0, **options) -> Path:
    from fastbuild.variants import annotate_vcf

    src = vcf_text_or_path
    if isinstance(src, str):
        src = tmp_path / "in.vcf"
        src.write_text(vcf_text_or_path)
    out = tmp_path / "out.vcf"
    annotate_vcf(vcf=str(src), out=str(out), fasta=str(fasta), annotation=str(annotation), distance=distance,
                 mask=mask, progress=False, **options)
    return out


def compare_entries(want: list[str], got: list[str]) -> str:
    """How fastbuild's entries of a record compare with SpliceAI's.

    'exact'; 'off_by_0.01' (only DS fields differ, each by one unit of the last decimal: float32
    rounding on either side of a .xx5 boundary); 'mismatch'.
    """
    if want == got:
        return "exact"
    if len(want) != len(got):
        return "mismatch"
    verdict = "off_by_0.01"
    for w, g in zip(want, got, strict=True):
        wf, gf = w.split("|"), g.split("|")
        if len(wf) != 10 or len(gf) != 10 or wf[:2] != gf[:2] or wf[6:] != gf[6:]:
            return "mismatch"
        for x, y in zip(wf[2:6], gf[2:6], strict=True):
            if x == y:
                continue
            if "." in (x, y) or abs(float(x) - float(y)) > 0.0101:
                return "mismatch"
    return verdict


@pytest.mark.realdata
@pytest.mark.parametrize("fasta", [TEST_FA, TEST_FA_NO_PREFIX], ids=["chr10", "10"])
def test_published_cases_exact(tmp_path, fasta):
    """SpliceAI's two published unit-test cases (grch37, -D 500, -M 0), on both FASTAs, to the digit."""
    need(fasta, HUMAN_TABLE)
    _weights()
    body = "".join(f"{c}\t{p}\t.\t{r}\t{a}\t.\t.\t.\n" for c, p, r, a in PUBLISHED)
    out = run(tmp_path, HEADER + body, fasta, HUMAN_TABLE, distance=500, mask=0)
    got = {tuple(line.split("\t")[:2]): info_entries(line) for line in records(out)}
    for (c, p, _, _), entry in PUBLISHED.items():
        assert got[(c, str(p))] == [entry]


def _agreement(tmp_path, chr22_fasta, distance, mask) -> dict:
    stem = DATA / f"oracle_D{distance}_M{mask}"
    out = run(tmp_path, stem.with_suffix(".in.vcf"), chr22_fasta, HUMAN_TABLE, distance, mask)
    counts = {"records": 0, "entries": 0, "exact": 0, "off_by_0.01": 0, "mismatch": 0}
    wrong = []
    for want_line, got_line in zip(records(stem.with_suffix(".out.vcf")), records(out), strict=True):
        assert want_line.split("\t")[:7] == got_line.split("\t")[:7]
        want, got = info_entries(want_line), info_entries(got_line)
        verdict = compare_entries(want, got)
        counts["records"] += 1
        counts["entries"] += len(want)
        counts[verdict] += 1
        if verdict == "mismatch":
            wrong.append((want_line.split("\t")[:5], want, got))
    return {**counts, "wrong": wrong}


# one setting in the default run (~40 s on 2 cores), the other three with the slow runs .ci/run also makes
ORACLE_CASES = [pytest.param(d, m, id=f"D{d}-M{m}", marks=() if (d, m) == (50, 0) else pytest.mark.slow)
                for d, m in SETTINGS]


@pytest.mark.realdata
@pytest.mark.parametrize(("distance", "mask"), ORACLE_CASES)
def test_oracle_fixture(tmp_path, chr22_fasta, distance, mask):
    """Every record of the SpliceAI 1.3.1 fixture, -M 0 and -M 1: all fields equal (DS off by 0.01 only at
    float32 rounding ties)."""
    need(HUMAN_TABLE, DATA / f"oracle_D{distance}_M{mask}.out.vcf")
    _weights()
    result = _agreement(tmp_path, chr22_fasta, distance, mask)
    print(f"D={distance} M={mask}: {({k: v for k, v in result.items() if k != 'wrong'})}")
    assert not result["wrong"], result["wrong"][:3]
    assert result["off_by_0.01"] <= max(1, result["records"] // 100)


def test_alignment_rules():
    """Deletions get zero rows after the kept bases; an insertion's anchor and inserted rows become their maximum."""
    from fastbuild.variants.semantics import align_alt

    y = np.arange(1, 10, dtype=np.float32).reshape(3, 3)  # D = 2, REF of 3, ALT of 1: 5 - 2 rows
    out = align_alt(y, 3, 1, 2)
    assert out.shape == (5, 3)
    assert np.array_equal(out[:3], y) and not out[3:].any()
    y = np.arange(21, dtype=np.float32).reshape(7, 3)  # D = 2, REF of 1, ALT of 3: 5 + 2 rows
    out = align_alt(y, 1, 3, 2)
    assert out.shape == (5, 3)
    assert np.array_equal(out[:2], y[:2]) and np.array_equal(out[2], y[2:5].max(axis=0))
    assert np.array_equal(out[3:], y[5:])


def test_near_contig_end_rule():
    """Unscored within 5000 + D of either contig end (measured on the oracle: D=50, contig of 110,000)."""
    from fastbuild.variants.semantics import near_contig_end

    assert near_contig_end(5050, 110_000, 50) and not near_contig_end(5051, 110_000, 50)
    assert not near_contig_end(104_950, 110_000, 50) and near_contig_end(104_951, 110_000, 50)


def test_mask_rule():
    """-M 1 (measured on the oracle): only the exon boundary closest to the variant counts, any type, transcript
    ends included, the lower one on a tie; a gain is zeroed at it, a loss everywhere else; DP unmasked."""
    from fastbuild.variants.semantics import Gene, closest_boundary, delta_scores, mask_arrays

    gene = Gene("G", "1", 100, 300, "-", acceptors=(150, 250), donors=(120, 200))
    acc, don = mask_arrays(gene, 110, 20)  # window 90..130: transcript start 100 (a donor side on -), donor 120
    assert np.flatnonzero(acc).tolist() == [] and np.flatnonzero(don).tolist() == [10, 30]
    assert closest_boundary(acc, don, 20) == -10  # tie between 100 and 120: the lower
    acc, don = mask_arrays(gene, 140, 20)  # 120 (donor), 150 (acceptor): the acceptor is closer
    assert closest_boundary(acc, don, 20) == 10
    assert closest_boundary(*mask_arrays(gene, 175, 20), 20) is None  # 150 and 200 farther than D
    d = 2
    ref = np.zeros((5, 3), dtype=np.float32)
    alt = ref.copy()
    alt[1, 1], alt[3, 1] = 0.5, -0.4  # acceptor gain at -1, acceptor loss at +1
    alt[1, 2], alt[3, 2] = 0.3, -0.2  # donor gain at -1, donor loss at +1
    at_minus1 = (np.array([0, 1, 0, 0, 0], bool), np.zeros(5, bool))
    scores, positions = delta_scores(ref, alt, d, at_minus1)
    assert positions == [-1, 1, -1, 1]
    assert [float(s) for s in scores] == [0.0, 0.0, 0.0, 0.0]  # gains at the site, losses elsewhere
    scores, _ = delta_scores(ref, alt, d, (np.zeros(5, bool), np.array([0, 0, 0, 1, 0], bool)))
    assert [round(float(s), 2) for s in scores] == [0.5, 0.4, 0.3, 0.2]
    acc, don = mask_arrays(gene, 110, 20, ends=False)
    assert not acc.any() and np.flatnonzero(don).tolist() == [30]
