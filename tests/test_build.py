"""``fastbuild build`` on the embedded demo genome with a synthetic score store.

The synthetic store (tests/fake_scores.py) makes these tests independent of the base model;
test_build_demo.py covers the shipped real demo scores.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from fastbuild import demo
from fastbuild.builder import BuildConfig, build_dataset
from fastbuild.builder.schema import kmer_names, roles_of
from fastbuild.builder.validate import validate_dataset
from fastbuild.cli import main
from fastbuild.errors import FastbuildError
from tests.conftest import ROW_KEY, read_rows
from tests.fake_scores import write_fake_store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_build(tmp_path_factory, fake_store):
    out = tmp_path_factory.mktemp("build") / "out"
    res = build_dataset(scores=fake_store, output_dir=str(out), n_genes=40, batch_size=15,
                        batch_rows=5000, progress=False)
    return out, res


def test_build_outputs_and_validate(small_build):
    out, res = small_build
    assert sorted(p.name for p in (out / "master").iterdir()) == [f"batch_0000{i}.parquet" for i in (1, 2, 3)]
    assert validate_dataset(out).ok
    man = pl.read_csv(out / "gene_manifest.csv")
    assert man.height == 40 and man["global_index"].to_list() == list(range(40))
    info = json.loads((out / "build_info.json").read_text())
    assert info["rows"] == res.info["rows"] == sum(info["counts"]["pred_type"].values())
    assert set(info["input_checksums"]) >= {"fasta", "annotation", "scores"}
    assert "Rows by label" in (out / "BUILD_INFO.md").read_text()
    # each record batch (row group) respects --batch-rows
    for f in (out / "master").iterdir():
        md = pq.read_metadata(f)
        assert all(md.row_group(i).num_rows <= 5000 for i in range(md.num_row_groups))
        assert not list(out.glob("*.tmp"))


def test_schema_roles_and_types(small_build):
    out, _ = small_build
    schema = pq.read_schema(next((out / "master").iterdir()))
    roles = roles_of(schema)
    assert roles["gene_id"] == roles["position"] == roles["rel_position"] == "id"
    assert roles["y"] == roles["pred_type"] == roles["splice_type"] == "label"
    assert roles["distance_to_donor"] == roles["true_position"] == "leaky"
    assert roles["3mer_AAA"] == roles["donor_score"] == roles["distance_to_predicted_donor"] == "feature"
    assert [n for n in schema.names if n.startswith("3mer_")] == [f"3mer_{k}" for k in kmer_names(3)]
    assert schema.field("3mer_ACG").type == "uint16"
    assert json.loads(schema.metadata[b"fastbuild.drop_for_training"])[:3] == ["gene_id", "transcript_id", "chrom"]


def _plain_kmers(seq: str, k: int) -> Counter:
    return Counter(seq[i:i + k] for i in range(len(seq) - k + 1) if "N" not in seq[i:i + k])


def test_rows_recomputed_from_fasta_and_annotation(small_build, demo_ann):
    """Random kept rows: k-mers, labels and distances recomputed with plain Python."""
    out, _ = small_build
    rows = read_rows(out)
    fasta_lines = demo.demo_fasta().read_text().split("\n", 1)[1].replace("\n", "").upper()
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    genes = {r["gene_id"]: r for r in demo_ann.genes.iter_rows(named=True)}
    sites = demo_ann.splice_sites
    rng = np.random.default_rng(0)
    sample = rows[rng.choice(rows.height, 60, replace=False).tolist()]
    for r in sample.iter_rows(named=True):
        g = genes[r["gene_id"]]
        seq = fasta_lines[g["start"] - 1:g["end"]]
        if g["strand"] == "-":
            seq = "".join(comp.get(b, "N") for b in reversed(seq))
        off = r["position"] - g["start"] if g["strand"] == "+" else g["end"] - r["position"]
        assert off == r["rel_position"]
        window = seq[max(0, off - 250):off + 250]
        counts = _plain_kmers(window, 3)
        for km in ("AAA", "ACG", "GCT", "TTT"):
            assert r[f"3mer_{km}"] == counts.get(km, 0), (r["gene_id"], r["position"], km)
        gs = sites.filter(pl.col("gene_id") == g["gene_id"])
        donors = set(gs.filter(pl.col("site_type") == "donor")["position"].to_list())
        acceptors = set(gs.filter(pl.col("site_type") == "acceptor")["position"].to_list())
        expect = "donor" if r["position"] in donors else "acceptor" if r["position"] in acceptors else "neither"
        assert r["splice_type"] == expect
        assert r["y"] == ["neither", "donor", "acceptor"].index(expect)
        d = min((abs(r["position"] - s) for s in donors), default=-1)
        assert r["distance_to_donor"] == d
        assert r["true_position"] == (r["position"] if expect != "neither" else None)
        # the label against the scores written in the row (threshold 0.5, window 2)
        if expect == "neither":
            assert r["pred_type"] in ("TN", "FP")
            if r["pred_type"] == "TN":
                assert max(r["donor_score"], r["acceptor_score"]) < 0.5 or min(
                    [abs(r["position"] - s) for s in donors | acceptors] or [99]) <= 2
        else:
            assert r["pred_type"] in ("TP", "FN")


def test_same_rows_whatever_batching_and_workers(small_build, fake_store, tmp_path):
    out, _ = small_build
    ref = read_rows(out)
    other = build_dataset(scores=fake_store, output_dir=str(tmp_path / "b"), n_genes=40, batch_size=7,
                          batch_rows=333, jobs=2, progress=False)
    assert other.info["batches"] == 6
    assert read_rows(tmp_path / "b").equals(ref)
    mem = build_dataset(scores=fake_store, output_dir=None, n_genes=40, batch_size=40, progress=False)
    assert mem.to_polars().sort(ROW_KEY, nulls_last=True).equals(ref)


def test_in_memory_api_touches_no_disk(fake_store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = build_dataset(scores=fake_store, output_dir=None, n_genes=3, subset_policy="random", progress=False)
    assert res.table.num_rows > 0 and res.output_dir is None
    assert list(tmp_path.iterdir()) == []


def test_resume_after_sigkill(fake_store, tmp_path):
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "fastbuild", "build", "--scores", fake_store, "--output-dir", str(out),
            "--n-genes", "60", "--batch-size", "6", "--batch-rows", "2000", "--no-progress"]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("batch_*_trim.parquet"))) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = list(out.glob("batch_*_trim.parquet"))
    assert 0 < len(finished) < 10, "the build should have been killed mid-way"
    assert not (out / "build_info.json").exists()
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr
    full = build_dataset(scores=fake_store, output_dir=str(tmp_path / "full"), n_genes=60, batch_size=6,
                         batch_rows=2000, progress=False)
    assert full.info["batches"] == 10
    assert read_rows(out).equals(read_rows(tmp_path / "full"))
    assert validate_dataset(out).ok


def test_changed_configuration_refused_then_overwritten(small_build, fake_store, tmp_path, capsys):
    out = tmp_path / "cfg"
    base = ["build", "--scores", fake_store, "--output-dir", str(out), "--n-genes", "5", "--no-progress"]
    assert main(base) == 0
    assert main([*base, "--kmer-sizes", "2"]) == 2
    err = capsys.readouterr().err
    assert "different configuration (kmer_sizes: [3] -> [2])" in err
    assert main([*base, "--kmer-sizes", "2", "--overwrite"]) == 0
    assert "2mer_AC" in pq.read_schema(next((out / "master").iterdir())).names


def test_second_build_on_same_directory_refused(fake_store, tmp_path):
    from fastbuild.builder.lock import OutputLock

    out = tmp_path / "locked"
    out.mkdir()
    with OutputLock(out):
        with pytest.raises(FastbuildError, match=r"another fastbuild build .* is writing"):
            build_dataset(scores=fake_store, output_dir=str(out), n_genes=2, progress=False)
    # a lock held by a dead process does not block
    code = f"from fastbuild.builder.lock import OutputLock; import os; OutputLock({str(out)!r}).acquire(); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    build_dataset(scores=fake_store, output_dir=str(out), n_genes=2, progress=False)


def test_unwritable_output_is_clear_error(fake_store, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FastbuildError, match="cannot write"):
        build_dataset(scores=fake_store, output_dir=str(blocker / "sub"), n_genes=2, progress=False)


def test_transcript_mode(fake_store, demo_ann):
    res = build_dataset(scores=fake_store, output_dir=None, n_genes=10, position_id_mode="transcript",
                        kmer_sizes=(), progress=False)
    df = res.to_polars()
    assert df["transcript_id"].null_count() == 0
    tx = demo_ann.transcripts
    spans = tx.select("transcript_id", pl.col("start").alias("ts"), pl.col("end").alias("te"))
    multi = df.join(spans, on="transcript_id")
    assert multi.filter((pl.col("position") < pl.col("ts")) | (pl.col("position") > pl.col("te"))).height == 0
    # each transcript labelled by its own sites
    own = demo_ann.splice_sites.select("transcript_id", "position", pl.lit(True).alias("own"))
    labelled = df.filter(pl.col("splice_type") != "neither").join(own, on=["transcript_id", "position"], how="left")
    assert labelled["own"].null_count() == 0
    assert not any(c.startswith("3mer") for c in df.columns)


def test_sparse_kmers_match_wide(fake_store):
    wide = build_dataset(scores=fake_store, output_dir=None, n_genes=3, kmer_sizes=(3,), progress=False).to_polars()
    sparse = build_dataset(scores=fake_store, output_dir=None, n_genes=3, kmer_sizes=(3,), kmer_layout="sparse",
                           progress=False).to_polars()
    names = [f"3mer_{k}" for k in kmer_names(3)]
    for i in np.random.default_rng(1).choice(wide.height, 20, replace=False).tolist():
        dense = np.array([wide[i, n] for n in names])
        ids, counts = sparse[i, "3mer_ids"].to_list(), sparse[i, "3mer_counts"].to_list()
        rebuilt = np.zeros(64, int)
        rebuilt[ids] = counts
        assert (rebuilt == dense).all()


def test_selection_flags(fake_store, tmp_path, demo_ann):
    ids = tmp_path / "ids.tsv"
    ids.write_text("name\tgene_id\nx\tAT1G01010\ny\tnac001\nz\tNOPE1\n")
    res = build_dataset(scores=fake_store, output_dir=None, n_genes=1, subset_policy="custom",
                        gene_ids_file=str(ids), gene_col="gene_id", progress=False)
    assert set(res.to_polars()["gene_id"]) == {"AT1G01010"}
    assert res.info["selection"]["unresolved_ids"] == ["NOPE1"]
    names = tmp_path / "names.txt"
    names.write_text("nac001\nAT1G01020.1\n")
    res = build_dataset(scores=fake_store, output_dir=None, n_genes=4, gene_ids_file=str(names),
                        subset_policy="random", progress=False)
    assert res.info["genes"] == 4 and {"AT1G01010"} <= set(res.manifest["gene_id"])
    lnc = build_dataset(scores=fake_store, output_dir=None, n_genes=5, gene_types=("lncRNA",),
                        subset_policy="all", kmer_sizes=(), progress=False)
    assert set(lnc.manifest["gene_type"]) == {"lncRNA"}
    assert lnc.info["genes"] == demo_ann.genes.filter(pl.col("gene_type") == "lncRNA").height


def test_error_policy_prefers_error_genes(fake_store):
    res = build_dataset(scores=fake_store, output_dir=None, n_genes=10, subset_policy="error_fn",
                        kmer_sizes=(), progress=False)
    top = res.info["counts"]["pred_type"]["FN"]
    rnd = build_dataset(scores=fake_store, output_dir=None, n_genes=10, subset_policy="random",
                        kmer_sizes=(), progress=False)
    assert top > rnd.info["counts"]["pred_type"]["FN"]


def test_genes_without_scores_are_an_error_naming_them(tmp_path, demo_ann):
    part = tmp_path / "partial"
    write_fake_store(part, demo_ann.genes.head(3), demo_ann.splice_sites)
    ids = tmp_path / "ids.txt"
    unscored = demo_ann.genes["gene_id"][10]
    ids.write_text(f"AT1G01010\n{unscored}\n")
    with pytest.raises(FastbuildError, match=rf"1 selected genes have no base-model scores \(e.g. {unscored}\)"):
        build_dataset(scores=str(part), output_dir=None, gene_ids_file=str(ids), subset_policy="custom", progress=False)


def test_empty_batch_has_the_schema(fake_store, tmp_path, demo_ann):
    # a gene without sites and easy_ratio 0, hard_prob 1: no rows at all
    quiet = demo_ann.genes.filter(pl.col("n_splice_sites") == 0)["gene_id"][0]
    ids = tmp_path / "ids.txt"
    ids.write_text(quiet + "\n")
    out = tmp_path / "empty"
    res = build_dataset(scores=fake_store, output_dir=str(out), gene_ids_file=str(ids), subset_policy="custom",
                        easy_ratio=0.0, easy_floor=0, peak_prob=1.0, hard_prob=1.0, threshold=1.0, progress=False)
    assert res.info["rows"] == 0
    f = next((out / "master").iterdir())
    assert pq.read_metadata(f).num_rows == 0
    assert pq.read_schema(f).names == pq.read_schema(f).names and "3mer_AAA" in pq.read_schema(f).names
    assert validate_dataset(out).ok


def test_bad_flags_are_one_line_errors(capsys):
    assert main(["build", "--kmer-sizes", "3,x"]) == 2
    assert "not a whole number" in capsys.readouterr().err
    assert main(["build", "--kmer-sizes", "8", "--kmer-layout", "wide"]) == 2
    assert "65536 columns" in capsys.readouterr().err
    assert main(["build", "--batch-rows", "0"]) == 2
    assert "--batch-rows must be >= 1" in capsys.readouterr().err
    with pytest.raises(FastbuildError, match=r"--threshold must be within 0\.\.1"):
        BuildConfig(threshold=2)


def test_validate_detects_tampering(small_build, tmp_path):
    import shutil

    out, _ = small_build
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    info = json.loads((copy / "build_info.json").read_text())
    info["counts"]["pred_type_x_splice_type"]["TP"]["donor"] += 1
    (copy / "build_info.json").write_text(json.dumps(info))
    rep = validate_dataset(copy)
    assert not rep.ok and "class counts" in rep.text()
    assert main(["validate", str(copy)]) == 1


def test_full_disk_is_clear_error_and_leaves_nothing_finished(fake_store, tmp_path, monkeypatch):
    import errno

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_batch", no_space)
    out = tmp_path / "full"
    with pytest.raises(FastbuildError, match="the disk is full"):
        build_dataset(scores=fake_store, output_dir=str(out), n_genes=3, batch_rows=100, progress=False)
    assert not list(out.glob("batch_*"))
    assert not list(out.glob("master/*"))
    assert not (out / "build_info.json").exists()


def test_master_copy_when_hard_link_fails(tmp_path, monkeypatch):
    import os

    from fastbuild.builder.writer import link_master

    src = tmp_path / "batch_00001_trim.parquet"
    src.write_bytes(b"PAR1 data PAR1")

    def no_link(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    dst = tmp_path / "master" / "batch_00001.parquet"
    link_master(src, dst)
    assert dst.read_bytes() == src.read_bytes() and not os.path.samefile(src, dst)
    assert not list((tmp_path / "master").glob("*.tmp"))
