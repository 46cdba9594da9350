"""score_genes + ScoreStore: orientation, merging, resume, atomicity, model identity."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from bm_helpers import REPO, random_state_dict, write_fake_keras_h5

from fastbuild.basemodel import NumpyRunner, ScoreStore, load_spliceai, score_genes
from fastbuild.basemodel.store import round_mantissa
from fastbuild.coords import orient
from fastbuild.errors import FastbuildError

DEMO_STORE = REPO / "fastbuild" / "demo_data" / "scores"

COMP = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    out = []
    for m in range(2):
        paths = []
        for i in range(2):
            p = d / f"m{m}_spliceai{i + 1}.h5"
            write_fake_keras_h5(p, random_state_dict(4, seed=100 * m + i))
            paths.append(p)
        out.append(load_spliceai(paths, name=f"fake{m}"))
    return out


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    from fastbuild.genome import Genome

    rng = np.random.default_rng(7)
    seqs = {"chrA": "".join(rng.choice(list("ACGT"), 6000)), "chrB": "".join(rng.choice(list("ACGTN"), 3000))}
    path = tmp_path_factory.mktemp("genome") / "g.fa"
    with open(path, "w") as fh:
        for name, s in seqs.items():
            fh.write(f">{name}\n")
            for i in range(0, len(s), 60):
                fh.write(s[i : i + 60] + "\n")
    g = Genome(path)
    yield g, seqs
    g.close()


GENES = pl.DataFrame(
    {
        "gene_id": ["g1", "g2", "g3", "g4", "g5", "g6"],
        "chrom": ["chrA", "chrA", "chrA", "chrA", "chrB", "chrB"],
        "start": [1, 100, 150, 5000, 20, 2900],
        "end": [300, 400, 250, 6000, 800, 3000],
        "strand": ["+", "+", "-", "-", "-", "+"],
    }
)


def _expected(model, seqs, chrom, start, end, strand):
    """Direct computation: encode, pad with N, orient, score, back to ascending genomic order."""
    lut = np.full(256, 4, np.uint8)
    for i, b in enumerate("ACGT"):
        lut[ord(b)] = lut[ord(b.lower())] = i
    s = np.frombuffer(seqs[chrom].encode(), np.uint8)
    f = model.flank
    codes = np.full(end - start + 1 + 2 * f, 4, np.uint8)
    for k, pos in enumerate(range(start - f, end + f + 1)):
        if 1 <= pos <= len(s):
            codes[k] = lut[s[pos - 1]]
    if strand == "-":
        codes = COMP[codes[::-1]]
    with NumpyRunner(model, threads=1) as runner:
        sc = runner.score_sequence(codes)
    return sc[::-1] if strand == "-" else sc


def test_scores_orientation_padding_and_merging(tmp_path, models, genome):
    g, seqs = genome
    model = models[0]
    summary = score_genes(g, GENES, model, tmp_path / "s", progress=False, chunk_genes=2)
    assert summary["genes_scored"] == 6 and summary["chunks_written"] >= 3
    store = ScoreStore(tmp_path / "s")
    assert sorted(store.genes()) == sorted(GENES["gene_id"])
    got = store.load(["g3", "g1"])
    assert got["gene_id"].unique(maintain_order=True).to_list() == ["g3", "g1"]
    for row in GENES.iter_rows(named=True):
        df = store.load(row["gene_id"])
        assert df["position"].to_list() == list(range(row["start"], row["end"] + 1))
        want = _expected(model, seqs, row["chrom"], row["start"], row["end"], row["strand"])
        have = df.select("neither", "acceptor", "donor").to_numpy()
        assert np.max(np.abs(have - want)) < 1e-5, row["gene_id"]
    # no merging gives the same numbers
    score_genes(g, GENES, model, tmp_path / "s2", progress=False, merge_gap=-10**9)
    a = ScoreStore(tmp_path / "s2").load().sort(["gene_id", "position"])
    b = store.load().sort(["gene_id", "position"])
    assert np.max(np.abs(a.select("donor", "acceptor").to_numpy() - b.select("donor", "acceptor").to_numpy())) < 1e-5
    assert not list((tmp_path / "s").rglob("*.tmp"))
    d = store.load(as_dict=True)
    assert set(d) == set(GENES["gene_id"])


def test_resume_and_incremental(tmp_path, models, genome):
    g, _ = genome
    s1 = score_genes(g, GENES.head(3), models[0], tmp_path / "s", progress=False, chunk_genes=1)
    assert s1["genes_scored"] == 3
    s2 = score_genes(g, GENES, models[0], tmp_path / "s", progress=False, chunk_genes=1)
    assert s2["genes_scored"] == 3 and s2["genes_skipped"] == 3
    s3 = score_genes(g, GENES, models[0], tmp_path / "s", progress=False)
    assert s3["genes_scored"] == 0 and s3["chunks_written"] == 0
    # an interrupted run: chunk written, index not updated -> the chunk is reused, not rescored
    store = ScoreStore(tmp_path / "s")
    idx = store.index()
    last = idx.filter(pl.col("gene_id") == "g6")
    (tmp_path / "s" / "index.parquet").unlink()
    store2 = ScoreStore(tmp_path / "s")
    store2.update_index(idx.filter(pl.col("gene_id") != "g6"))
    g6 = GENES.filter(pl.col("gene_id") == "g6")
    s4 = score_genes(g, g6, models[0], tmp_path / "s", progress=False, chunk_genes=1)
    assert s4["genes_scored"] == 1 and s4["chunks_written"] == 0
    files = ScoreStore(tmp_path / "s").index().filter(pl.col("gene_id") == "g6")["file"].to_list()
    assert files == last["file"].to_list()


def test_other_model_refused_unless_overwrite(tmp_path, models, genome):
    g, _ = genome
    score_genes(g, GENES.head(2), models[0], tmp_path / "s", progress=False)
    with pytest.raises(FastbuildError, match="different model"):
        score_genes(g, GENES.head(2), models[1], tmp_path / "s", progress=False)
    with pytest.raises(FastbuildError, match="different model"):
        ScoreStore(tmp_path / "s").check_model(models[1].identity)
    s = score_genes(g, GENES.head(2), models[1], tmp_path / "s", progress=False, overwrite=True)
    assert s["genes_scored"] == 2
    assert ScoreStore(tmp_path / "s").model_identity["name"] == "fake1"
    with pytest.raises(FastbuildError, match="no scores"):
        ScoreStore(tmp_path / "s").load(["g5"])


def test_bad_inputs(tmp_path, models, genome):
    g, _ = genome
    with pytest.raises(FastbuildError, match="more than once"):
        score_genes(g, pl.concat([GENES.head(1), GENES.head(1)]), models[0], tmp_path / "s", progress=False)
    with pytest.raises(FastbuildError, match="lacks column"):
        score_genes(g, GENES.drop("strand"), models[0], tmp_path / "s", progress=False)
    with pytest.raises(FastbuildError, match="not a score store"):
        ScoreStore(tmp_path / "nowhere")


def test_chunk_names_match_the_shipped_demo_store():
    """Chunk names stay as they were: existing stores (the demo store) resume without rescoring."""
    store = ScoreStore(DEMO_STORE)
    idx = store.index()
    assert idx.height
    for (file,), part in idx.group_by(["file"]):
        ids = json.loads(pq.read_metadata(store.path / file).metadata[b"fastbuild.genes"])
        rel = store.chunk_name(part["chrom"][0], ids, int(part["start"].min()), int(part["end"].max()))
        assert rel == Path(file) and store.chunk_done(rel, ids)
    rel = store.chunk_name("chr 1|x", ["a", "b"], 12, 3456)
    assert rel.parent == Path("scores/chr_1_x") and rel.name.startswith("chunk_0000000012_0000003456_")
    assert rel != store.chunk_name("chr 1|x", ["a", "c"], 12, 3456)


def test_iter_gene_scores_streams_in_transcript_orientation(tmp_path, models, genome):
    g, _ = genome
    score_genes(g, GENES, models[0], tmp_path / "s", progress=False, chunk_genes=2)
    store = ScoreStore(tmp_path / "s")
    order = GENES.sort("gene_id", descending=True).with_columns(pl.lit("extra").alias("note"))
    got = list(store.iter_gene_scores(order))
    assert sorted(info["gene_id"] for info, *_ in got) == sorted(GENES["gene_id"])
    files = store.index().select("gene_id", "file")
    seen = [files.filter(pl.col("gene_id") == info["gene_id"])["file"][0] for info, *_ in got]
    assert seen == sorted(seen, key=seen.index)  # one chunk file at a time
    for info, donor, acceptor, neither in got:
        assert info["note"] == "extra"
        df = store.load(info["gene_id"])
        for name, arr in (("donor", donor), ("acceptor", acceptor), ("neither", neither)):
            assert arr.dtype == np.float32
            assert np.array_equal(arr, orient(df[name].to_numpy(), info["strand"]))
    assert list(store.iter_gene_scores(GENES.head(0))) == []
    unknown = pl.concat([GENES.head(1), GENES.head(1).with_columns(pl.lit("nope").alias("gene_id"))])
    message = r"no scores for 1 gene\(s\), e\.g\. nope; score them with fastbuild predict"
    with pytest.raises(FastbuildError, match=message):
        list(store.iter_gene_scores(unknown))
    longer = GENES.head(1).with_columns(pl.col("end") + 1)
    with pytest.raises(FastbuildError, match=r"does not cover gene g1 \(chrA:1-301\) position by position"):
        list(store.iter_gene_scores(longer))


def test_round_mantissa():
    x = np.array([1.0, 1.0 + 2**-12, 3.14159265, 1e-7, 0.0, 0.99999], np.float32)
    r = round_mantissa(x, 10)
    assert r.dtype == np.float32
    assert np.all(np.abs(r - x) <= np.abs(x) * 2**-11 + 1e-30)
    assert np.array_equal(round_mantissa(x, 23), x)


def test_restricted_unpickler_refuses_code(tmp_path):
    from fastbuild.basemodel.torchfile import load_state_dict

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    p = tmp_path / "evil.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    with pytest.raises(FastbuildError, match="refusing"):
        load_state_dict(p)
    q = tmp_path / "plain.pt"
    q.write_bytes(b"not a zip")
    with pytest.raises(FastbuildError, match="not a PyTorch zip"):
        load_state_dict(q)
