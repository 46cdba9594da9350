"""Genome access: decoding, strand, region headers, gzip, bgzip, unwritable or package index folders."""

from __future__ import annotations

import gzip
import os

import pytest

import fastbuild.genome as genome_mod
from fastbuild.contigs import canonical, read_alias_file, reconcile
from fastbuild.errors import FastbuildError
from fastbuild.genome import Genome


def write_fasta(path, records, width=7):
    with open(path, "w") as fh:
        for name, seq in records:
            fh.write(f">{name} some description\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i:i + width] + "\n")
    return path


def test_fetch_codes_lowercase_and_n(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", [("chrA", "ACGTNacgtnRY")])
    with Genome(fa) as g:
        assert g.contigs == {"chrA": 12}
        assert g.fetch("chrA", 1, 12).tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 4, 4]
        assert g.fetch("chrA", 2, 3).tolist() == [1, 2]


def test_minus_strand_is_reverse_complement(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", [("c", "AACGTTTGCA")])
    with Genome(fa) as g:
        plus = g.fetch("c", 2, 6, "+")  # ACGTT
        minus = g.fetch("c", 2, 6, "-")  # AACGT
        assert plus.tolist() == [0, 1, 2, 3, 3]
        assert minus.tolist() == [0, 0, 1, 2, 3]


def test_out_of_contig_bases_are_n(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", [("c", "ACGT")])
    with Genome(fa) as g:
        assert g.fetch("c", -1, 6).tolist() == [4, 4, 0, 1, 2, 3, 4, 4]
        assert g.fetch("c", 3, 2).tolist() == []
        assert not g.covered("c", 0, 4) and g.covered("c", 1, 4)


def test_region_header_maps_to_genomic_coordinates(tmp_path):
    fa = write_fasta(tmp_path / "r.fa", [("22:101-110", "ACGTACGTAC")])
    with Genome(fa) as g:
        assert g.contigs == {"22": 110}
        assert g.fetch("22", 101, 104).tolist() == [0, 1, 2, 3]
        assert g.fetch("22", 99, 101).tolist() == [4, 4, 0]
        assert g.covered("22", 101, 110) and not g.covered("22", 100, 105)


def test_region_header_with_wrong_length_is_a_plain_name(tmp_path):
    fa = write_fasta(tmp_path / "r.fa", [("x:1-5", "ACG")])
    with Genome(fa) as g:
        assert g.contigs == {"x:1-5": 3}


def test_gzip_fasta_is_decompressed_once_to_cache(tmp_path, caplog):
    plain = write_fasta(tmp_path / "g.fa", [("c", "ACGTACGTAA")])
    gz = tmp_path / "g.fa.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    cache = tmp_path / "cache"
    with caplog.at_level("WARNING"), Genome(gz, cache_dir=cache) as g:
        assert g.fetch("c", 1, 4).tolist() == [0, 1, 2, 3]
    assert "decompressing once" in caplog.text
    assert len([p for p in cache.iterdir() if p.suffix == ".fa"]) == 1
    caplog.clear()
    with caplog.at_level("WARNING"), Genome(gz, cache_dir=cache):
        pass
    assert "decompressing" not in caplog.text


def test_gzip_checksum_is_remembered(tmp_path, monkeypatch):
    plain = write_fasta(tmp_path / "g.fa", [("c", "ACGTACGTAA")])
    gz = tmp_path / "g.fa.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    calls = []
    real = genome_mod.sha256_file
    monkeypatch.setattr(genome_mod, "sha256_file", lambda p: calls.append(p) or real(p))
    for _ in range(3):
        with Genome(gz, cache_dir=tmp_path / "cache"):
            pass
    assert len(calls) == 1
    gz.write_bytes(gzip.compress(b">c\nTTTT\n"))  # changed content: new checksum, new copy
    with Genome(gz, cache_dir=tmp_path / "cache") as g:
        assert g.fetch("c", 1, 4).tolist() == [3, 3, 3, 3]
    assert len(calls) == 2 and len(list((tmp_path / "cache").glob("*.fa"))) == 2


def test_fasta_inside_the_package_is_never_written_beside(tmp_path, monkeypatch):
    pkg = tmp_path / "site-packages" / "fastbuild"
    pkg.mkdir(parents=True)
    fa = write_fasta(pkg / "demo.fa", [("c", "ACGTACGT")])
    monkeypatch.setattr(genome_mod, "_PACKAGE_DIR", pkg)
    with Genome(fa, cache_dir=tmp_path / "cache") as g:
        assert g.fetch("c", 2, 4).tolist() == [1, 2, 3]
    assert sorted(p.name for p in pkg.iterdir()) == ["demo.fa"]
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.endswith("_demo.fa.fai")]


def test_demo_fasta_index_goes_to_the_cache(tmp_path):
    from fastbuild import demo

    with Genome(demo.demo_fasta(), cache_dir=tmp_path / "cache") as g:
        assert g.contigs == {"NC_003070.9": 700_000}
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [genome_mod._cache_name(demo.demo_fasta()) + ".fai"]


def test_stale_index_is_replaced_atomically(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", [("c", "ACGTACGT")])
    with Genome(fa):
        pass
    fa.write_text(">c\nTTTTGGGG\n>d\nAC\n")
    os.utime(tmp_path / "g.fa.fai", (1, 1))  # older than the FASTA
    with Genome(fa) as g:
        assert g.contigs == {"c": 8, "d": 2} and g.fetch("c", 1, 2).tolist() == [3, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.fa", "g.fa.fai"]


def test_bgzip_fasta_is_read_in_place(tmp_path):
    bgzf = pytest.importorskip("Bio.bgzf")
    plain = write_fasta(tmp_path / "g.fa", [("c", "ACGTACGTAA")])
    bgz = tmp_path / "g.fa.gz"
    with bgzf.BgzfWriter(str(bgz), "wb") as out:
        out.write(plain.read_bytes())
    with Genome(bgz, cache_dir=tmp_path / "cache") as g:
        assert g.fetch("c", 1, 4).tolist() == [0, 1, 2, 3]
    assert (tmp_path / "g.fa.gz.fai").exists() and (tmp_path / "g.fa.gz.gzi").exists()
    assert not (tmp_path / "cache").exists()


def test_missing_and_corrupt_files_are_clear_errors(tmp_path):
    with pytest.raises(FastbuildError, match="FASTA file not found"):
        Genome(tmp_path / "nope.fa")
    bad = tmp_path / "bad.fa.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(FastbuildError, match="cannot decompress FASTA"):
        Genome(bad, cache_dir=tmp_path / "c")


def test_unwritable_fasta_folder_puts_index_in_cache(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    fa = write_fasta(ro / "g.fa", [("c", "ACGTACGT")])
    real = genome_mod._writable_dir
    monkeypatch.setattr(genome_mod, "_writable_dir", lambda p: False if p == ro else real(p))
    os.chmod(ro, 0o555)
    try:
        cache = tmp_path / "cache"
        with Genome(fa, cache_dir=cache) as g:
            assert g.fetch("c", 1, 3).tolist() == [0, 1, 2]
        assert not (ro / "g.fa.fai").exists()
        assert any(p.name.endswith(".fai") for p in cache.iterdir())
    finally:
        os.chmod(ro, 0o755)


def test_unwritable_fasta_and_cache_is_one_line_error(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    fa = write_fasta(ro / "g.fa", [("c", "ACGT")])
    monkeypatch.setattr(genome_mod, "_writable_dir", lambda p: False)
    with pytest.raises(FastbuildError, match="not writable; pass a writable --cache-dir"):
        Genome(fa, cache_dir=tmp_path / "cache")


def test_bad_strand_and_contig(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", [("c", "ACGT")])
    with Genome(fa) as g:
        with pytest.raises(FastbuildError, match="unknown strand"):
            g.fetch("c", 1, 2, ".")
        with pytest.raises(FastbuildError, match="not in FASTA"):
            g.fetch("chrZ", 1, 2)


def test_contig_reconciliation():
    assert canonical("chr1") == "1" and canonical("chrM") == "MT" and canonical("MT") == "MT"
    m = reconcile(["chr1", "chrM", "chrUn"], ["1", "MT", "2"])
    assert m.mapping == {"chr1": "1", "chrM": "MT"}
    assert m.unmatched_annotation == ("chrUn",) and m.unmatched_fasta == ("2",)
    m = reconcile(["NC_1"], ["Chr1"], aliases={"NC_1": "Chr1"})
    assert m.mapping == {"NC_1": "Chr1"}
    with pytest.raises(FastbuildError, match=r"annotation has chrX.*FASTA has 1, 2"):
        reconcile(["chrX"], ["1", "2"])


def test_alias_file(tmp_path):
    f = tmp_path / "alias.tsv"
    f.write_text("# comment\nNC_003070.9\tChr1\n\nNC_2, Chr2\n")
    assert read_alias_file(f) == {"NC_003070.9": "Chr1", "NC_2": "Chr2"}
    f.write_text("a b c\n")
    with pytest.raises(FastbuildError, match=r"alias.tsv:1: expected two columns"):
        read_alias_file(f)
