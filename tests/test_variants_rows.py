"""fastbuild variants --rows: the build's score-context and k-mer features on the reference and alternative allele.

One annotation run (SpliceAI weights, the hg19 chr10 slice of SpliceAI's tests) over an SNV, a
deletion, an insertion and a deletion that also substitutes its anchor, each scored against a
plus-strand and a minus-strand gene (the minus gene starts 19 bases below the first variant, so
its window reads N outside the gene). Every feature is checked against a computation of its own:
k-mers counted by slicing Python strings cut from the FASTA text, score context and sums from the
rows' own score columns with numpy.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from fastbuild.errors import FastbuildError
from tests.conftest import need
from tests.test_variants import HEADER, TEST_FA, _weights, run

D = 50
UP, DOWN = 60, 25  # far from symmetric: a window flipped the wrong way round cannot pass
KS = (2, 3)
GENES = {"PLUS": ("+", 60000, 110000), "MINUS": ("-", 93990, 100000)}  # TX_START (0-based), TX_END
TABLE = "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n" + "".join(
    f"{name}\t10\t{strand}\t{a}\t{b}\t{a},94500,\t94100,{b},\n" for name, (strand, a, b) in GENES.items())
VARIANTS = [(94010, "C", "T"), (94077, "A", "C"), (94200, "GAGTT", "G"), (94300, "G", "GTACA"), (94400, "AT", "C")]
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    import polars as pl

    need(TEST_FA)
    _weights()
    tmp = tmp_path_factory.mktemp("variant_rows")
    (tmp / "genes.txt").write_text(TABLE)
    body = "".join(f"10\t{p}\t.\t{r}\t{a}\t.\t.\tCLNSIG={'Pathogenic' if i % 2 else 'Benign'}\n"
                   for i, (p, r, a) in enumerate(VARIANTS))
    out = tmp / "rows"
    run(tmp, HEADER + body, TEST_FA, tmp / "genes.txt", distance=D, rows=str(out), rows_kmer_sizes=KS,
        rows_context_flank=(UP, DOWN), label_field="CLNSIG", label_map=(("Pathogenic", 1), ("Benign", 0)))
    return out, pl.read_parquet(out / "master" / "*.parquet")


@pytest.fixture(scope="module")
def chr10() -> str:
    need(TEST_FA)
    lines = TEST_FA.read_text().splitlines()
    return "".join(lines[1:]).upper()


def _blocks(df):
    for (vid, gene), block in df.group_by(["variant_id", "gene"], maintain_order=True):
        yield vid, gene, block.sort("position")


def _sequences(chr10: str, gene: str, pos: int, ref: str, alt: str, margin: int) -> tuple[int, str, str]:
    """(first genomic position, reference text, alternative text) around the variant; N outside the gene."""
    _, tx_start, tx_end = GENES[gene]
    lo, hi = pos - margin, pos + margin
    text = "".join(chr10[p - 1] if tx_start < p <= tx_end else "N" for p in range(lo, hi + 1))
    at = pos - lo
    assert text[at:at + len(ref)] == ref
    return lo, text, text[:at] + alt + text[at + len(ref):]


def _where_in_alt(p: int, pos: int, ref: str, alt: str) -> int:
    """Genomic position a row sees in the alternative text (docs/variants.md's rule, written out again)."""
    if p < pos + min(len(ref), len(alt)):
        return p
    if p >= pos + len(ref):
        return p + len(alt) - len(ref)
    return pos + len(alt) - 1  # a deleted base: the junction, the last base ALT keeps


def _window(text: str, index: int, strand: str) -> str:
    """The UP + DOWN + 1 bases around text[index], in transcript orientation."""
    if strand == "-":
        text, index = text[::-1].translate(COMPLEMENT), len(text) - 1 - index
    return text[index - UP: index + DOWN + 1]


def _kmers(window: str, k: int) -> dict:
    counts = dict.fromkeys(("".join(p) for p in itertools.product("ACGT", repeat=k)), 0)
    for i in range(len(window) - k + 1):
        if "N" not in window[i:i + k]:
            counts[window[i:i + k]] += 1
    return counts


def _composition(window: str) -> tuple[float, float]:
    n = {b: window.count(b) for b in "ACGT"}
    total = sum(n.values())
    gc = (n["C"] + n["G"]) / total if total else 0.0
    entropy = -sum(c / total * math.log2(c / total) for c in n.values() if c) if total else 0.0
    return gc, entropy


def test_every_scored_allele_gene_pair_has_its_rows(rows):
    _, df = rows
    assert df.height == len(VARIANTS) * len(GENES) * (2 * D + 1)
    assert sorted(df["strand"].unique().to_list()) == ["+", "-"]


def test_kmers_and_composition_match_string_slicing(rows, chr10):
    _, df = rows
    checked = 0
    for _, gene, block in _blocks(df):
        pos, ref, alt = block["pos"][0], block["ref"][0], block["alt"][0]
        strand = GENES[gene][0]
        lo, ref_text, alt_text = _sequences(chr10, gene, pos, ref, alt, D + UP + DOWN + 10)
        for row in block.iter_rows(named=True):
            p = row["position"]
            for allele, text, where in (("ref", ref_text, p), ("alt", alt_text, _where_in_alt(p, pos, ref, alt))):
                window = _window(text, where - lo, strand)
                assert len(window) == UP + DOWN + 1
                for k in KS:
                    got = {km: row[f"{allele}_{k}mer_{km}"] for km in _kmers(window, k)}
                    assert got == _kmers(window, k), (allele, gene, pos, p, k)
                gc, entropy = _composition(window)
                assert row[f"{allele}_gc_content"] == pytest.approx(gc, abs=1e-6)
                assert row[f"{allele}_sequence_complexity"] == pytest.approx(entropy, abs=1e-6)
                checked += 1
    assert checked == 2 * df.height


def test_deleted_bases_read_the_junction(rows):
    """A deletion's deleted bases all see the alternative sequence around the last base ALT keeps."""
    _, df = rows
    for gene in GENES:
        block = df.filter((df["variant_id"] == "10:94200:GAGTT:G") & (df["gene"] == gene)).sort("offset")
        junction = block.filter(block["offset"].is_between(0, 4))  # the anchor and the 4 deleted bases
        for name in ("alt_gc_content", "alt_3mer_GAG", "alt_2mer_TT"):
            assert junction[name].n_unique() == 1, (gene, name)
        assert junction["ref_3mer_GAG"].n_unique() > 1 or junction["ref_gc_content"].n_unique() > 1


def test_minus_gene_reads_n_outside_its_span(rows, chr10):
    """Row 94010 - D of the minus gene: its window (DOWN bases below, UP above) starts 56 bases before the
    gene's first base (93991); only the 30 bases 93991..94020 count."""
    _, df = rows
    row = df.filter((df["variant_id"] == "10:94010:C:T") & (df["gene"] == "MINUS") & (df["position"] == 94010 - D))
    inside = chr10[93990:94010 - D + UP]
    assert len(inside) == 30 and "N" not in inside
    assert sum(row[f"ref_2mer_{km}"][0] for km in _kmers(inside, 2)) == 29
    assert row["ref_gc_content"][0] == pytest.approx(_composition(inside)[0], abs=1e-6)


def _oriented(block, allele: str, strand: str) -> dict:
    step = -1 if strand == "-" else 1
    return {c: block[f"{allele}_{c}"].to_numpy().astype(np.float64)[::step] for c in ("neither", "acceptor", "donor")}


def _shift(x: np.ndarray, by: int) -> np.ndarray:
    """x at offset +by (transcript orientation), 0 past the window."""
    out = np.zeros_like(x)
    if by > 0:
        out[:-by] = x[by:]
    else:
        out[-by:] = x[:by]
    return out


def _window_sum(x: np.ndarray, first: int, last: int, up: bool) -> np.ndarray:
    return sum(_shift(x, -o if up else o) for o in range(first, last + 1))


def test_score_context_of_both_alleles(rows):
    """Neighbours, context means, splice probability, peaks and long sums / maxima from the score columns."""
    _, df = rows
    for _, gene, block in _blocks(df):
        strand = GENES[gene][0]
        step = -1 if strand == "-" else 1
        for allele in ("ref", "alt"):
            s = _oriented(block, allele, strand)
            d, a, n = s["donor"], s["acceptor"], s["neither"]

            def got(name, _block=block, _allele=allele, _step=step):
                return _block[f"{_allele}_{name}"].to_numpy().astype(np.float64)[::_step]

            close = dict(rtol=2e-6, atol=2e-7)
            np.testing.assert_allclose(got("ctx_donor_m1"), _shift(d, -1), **close)
            np.testing.assert_allclose(got("ctx_acceptor_p2"), _shift(a, 2), **close)
            mean = (_shift(d, -2) + _shift(d, -1) + _shift(d, 1) + _shift(d, 2)) / 4
            np.testing.assert_allclose(got("ctx_donor_context_mean"), mean, **close)
            np.testing.assert_allclose(got("ctx_splice_probability"), (d + a) / (d + a + n + 1e-10), **close)
            peak = (a > _shift(a, -1)) & (a > _shift(a, 1)) & (a > 1e-3)
            assert np.array_equal(got("ctx_acceptor_is_local_peak"), peak.astype(np.float64))
            sums = dict(rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(got("donor_sum_up30"), _window_sum(d, 3, 30, up=True), **sums)
            np.testing.assert_allclose(got("acceptor_sum_down30"), _window_sum(a, 3, 30, up=False), **sums)
            np.testing.assert_allclose(got("acceptor_sum_up_window"), _window_sum(a, 3, 2 * D, up=True), **sums)
            np.testing.assert_allclose(got("donor_sum_down_window"), _window_sum(d, 3, 2 * D, up=False), **sums)
            best = np.max([_shift(d, -o) for o in range(3, 51)], axis=0)
            np.testing.assert_allclose(got("donor_max_up50"), best, **close)


def test_deleted_bases_have_zero_alternative_scores_in_the_context(rows):
    _, df = rows
    block = df.filter((df["variant_id"] == "10:94200:GAGTT:G") & (df["gene"] == "PLUS")).sort("offset")
    deleted = block.filter(block["offset"].is_between(1, 4))
    assert deleted["alt_donor"].to_list() == [0.0] * 4
    assert deleted["alt_ctx_splice_probability"].to_list() == [0.0] * 4


def test_loaders_iterate_the_rows_with_the_features(rows):
    from fastbuild.loaders import BuildReader, iter_batches

    out, df = rows
    reader = BuildReader(out, roles=("feature",), target="y", weight=None)
    names = reader.feature_names
    for name in ("ref_ctx_donor_m2", "alt_ctx_probability_entropy", "ref_donor_sum_up30", "alt_acceptor_max_down50",
                 "ref_2mer_GC", "alt_3mer_TTT", "ref_gc_content", "alt_sequence_complexity", "delta_donor"):
        assert name in names, name
    assert reader.num_rows == df.height
    batches = list(iter_batches(out, roles=("feature",), target="y", weight=None, batch_size=300))
    assert sum(b.X.shape[0] for b in batches) == df.height and batches[0].X.shape[1] == len(names)
    j = names.index("alt_3mer_TTT")
    assert np.array_equal(np.concatenate([b.X[:, j] for b in batches]), df["alt_3mer_TTT"].to_numpy())
    assert set(np.concatenate([b.y for b in batches]).tolist()) == {0, 1}


def test_default_schema_has_the_builds_kmer_size_and_every_column_is_declared():
    from fastbuild.variants.row_features import RowFeatures
    from fastbuild.variants.rows import row_schema

    schema = row_schema(False)
    assert "ref_3mer_AAA" in schema.names and "alt_3mer_TTT" in schema.names and "ref_2mer_AA" not in schema.names
    assert len(schema.names) == len(set(schema.names))
    for f in schema:
        assert f.metadata[b"fastbuild.doc"] and f.metadata[b"fastbuild.role"]
    none = row_schema(False, RowFeatures(kmer_sizes=()))
    assert not [n for n in none.names if "mer_" in n] and "alt_gc_content" in none.names


@pytest.mark.parametrize(("options", "message"), [
    ({"rows_kmer_sizes": (7,)}, r"--rows-kmer-sizes: 7 is out of range"),
    ({"rows_kmer_sizes": (3, 2, 3)}, r"--rows-kmer-sizes names 3 twice"),
    ({"rows_context_flank": (40000, 40000)}, r"--rows-context-flank UP \+ DOWN must be <= 65534"),
    ({"rows_context_flank": (10,)}, r"--rows-context-flank needs two whole numbers"),
])
def test_bad_row_feature_options(options, message):
    from fastbuild.variants.config import VariantsConfig

    with pytest.raises(FastbuildError, match=message):
        VariantsConfig(**options)


def test_rows_kmer_sizes_from_the_command_line():
    from fastbuild.cli import get_parser
    from fastbuild.commands import options as cli_options
    from fastbuild.variants.config import VariantsConfig

    args = get_parser().parse_args(["variants", "-I", "a.vcf", "-O", "b.vcf", "--rows-kmer-sizes", "0",
                                    "--rows-context-flank", "10", "20"])
    config = cli_options.config_from_args(VariantsConfig(), args)
    assert config.rows_kmer_sizes == () and config.rows_context_flank == (10, 20)
