"""benchmarks/bench_pseudogene_sites.py: the stop-free codon run into a site's exon, against a
string-level count, and the script end to end on the demo's evaluation build."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import fastbuild_kernels as kernels

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_pseudogene_sites",
                                              REPO / "benchmarks" / "bench_pseudogene_sites.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def _naive(seq: str, site: int, donor: bool) -> int:
    best = 0
    for f in range(3):
        if donor:
            codons = [seq[e - 2:e + 1] for e in range(site - f, 1, -3)]
        else:
            codons = [seq[s:s + 3] for s in range(site + f, len(seq) - 2, 3)]
        n = 0
        for c in codons:
            if c in ("TAA", "TAG", "TGA") or "N" in c:
                break
            n += 3
        best = max(best, n)
    return best


@pytest.mark.parametrize("seed", range(8))
def test_exon_orf_equals_string_count(seed):
    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGT" + "N" * (seed == 3)), 200))
    codes = kernels.encode(seq)
    for site in (0, 1, 2, 57, 100, 197, 199):
        for donor in (True, False):
            assert bench.exon_orf(codes, site, donor) == _naive(seq, site, donor), (site, donor)


def test_runs_on_an_evaluation_build(tmp_path, capsys):
    import fastbuild
    from fastbuild import demo

    fastbuild.build_dataset(output_dir=str(tmp_path / "ev"), eval_mode=True, n_genes=12, progress=False)
    bench.main([str(tmp_path / "ev"), "--fasta", str(demo.demo_fasta()), "--flank", "300"])
    out = capsys.readouterr().out
    assert "| site | genes | label |" in out
