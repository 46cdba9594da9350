"""Faults and bad inputs around the score store, the output folder and validate (issue: hardening).

Each case: the bad input or fault, the exit status, a one-line message naming the input, nothing
finished-looking left, existing data intact. ``BAD_INPUTS`` lists the kinds tested here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from fastbuild import demo
from fastbuild.basemodel.scoring import score_genes
from fastbuild.basemodel.store import ScoreStore
from fastbuild.builder import build_dataset
from fastbuild.builder.validate import validate_dataset
from fastbuild.cli import main
from tests.conftest import SHARED_DATA, need

REPO = Path(__file__).resolve().parents[1]
MODEL_80 = SHARED_DATA / "openspliceai_models" / "arabidopsis" / "80nt"
MODEL_10K = SHARED_DATA / "openspliceai_models" / "arabidopsis" / "10000nt"

BAD_INPUTS = [
    "two-concurrent-predicts-one-store",
    "output-dir-foreign-files",
    "output-dir-foreign-file-in-master",
    "store-of-another-model",
    "store-index-corrupt",
    "store-index-deleted",
    "store-chunk-deleted",
    "validate-manifest-deleted",
    "validate-build-info-corrupt",
    "validate-master-file-truncated",
    "validate-unfinished-build",
    "validate-not-a-dataset",
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory, fake_store):
    out = tmp_path_factory.mktemp("finished") / "out"
    build_dataset(scores=fake_store, output_dir=str(out), n_genes=6, batch_size=3, progress=False)
    return out


def one_line_error(capsys, argv, *needles) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fastbuild: error:"), err
    for n in needles:
        assert n in err, err
    return err


def copy_of(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_two_concurrent_predicts_into_one_store_keep_every_gene(demo_ann, tmp_path):
    need(MODEL_80)
    store = tmp_path / "scores"
    genes = demo_ann.genes.sort("start").head(40)
    halves = [genes.head(20)["gene_id"].to_list(), genes.tail(20)["gene_id"].to_list()]
    procs = []
    for i, ids in enumerate(halves):
        f = tmp_path / f"ids{i}.txt"
        f.write_text("\n".join(ids) + "\n")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "fastbuild", "predict", "--model", str(MODEL_80), "--scores", str(store),
             "--gene-ids-file", str(f), "--subset-policy", "custom", "--no-progress"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert sorted(ScoreStore(store).genes()) == sorted(halves[0] + halves[1])
    res = build_dataset(scores=str(store), output_dir=str(tmp_path / "b"), subset_policy="all", n_genes=40,
                        progress=False)
    assert res.info["genes"] == 40


def test_build_killed_while_writing_its_plan_restarts(fake_store, tmp_path, capsys):
    """A kill during the plan's write leaves only its temporary file: that folder is no foreign
    folder (seen in a kill test), while any other stray .tmp file still is."""
    out = tmp_path / "killed"
    out.mkdir()
    (out / "plan.json.somehost.12345.tmp").write_text('{"half')
    assert main(["build", "--scores", fake_store, "--output-dir", str(out), "--n-genes", "3", "--no-progress"]) == 0
    assert (out / "_SUCCESS").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt.tmp").write_text("mine")
    base = ["build", "--scores", fake_store, "--output-dir", str(other), "--n-genes", "3", "--no-progress"]
    one_line_error(capsys, base, "is not empty and holds no fastbuild build", "--overwrite")


def test_foreign_folder_is_refused_and_never_deleted(fake_store, tmp_path, capsys):
    out = tmp_path / "mine"
    (out / "master").mkdir(parents=True)
    (out / "master" / "notes.txt").write_text("my notes")
    (out / "build_info.json").write_text("{}")
    base = ["build", "--scores", fake_store, "--output-dir", str(out), "--n-genes", "3", "--no-progress"]
    one_line_error(capsys, base, "is not empty and holds no fastbuild build", "--overwrite")
    assert (out / "master" / "notes.txt").read_text() == "my notes"
    one_line_error(capsys, [*base, "--overwrite"], "files fastbuild did not write (notes.txt)")
    assert (out / "master" / "notes.txt").read_text() == "my notes"
    (out / "master" / "notes.txt").rename(tmp_path / "notes.txt")
    assert main([*base, "--overwrite"]) == 0
    assert validate_dataset(out).ok


def test_rebuild_deletes_only_its_own_files(fake_store, tmp_path):
    out = tmp_path / "own"
    build_dataset(scores=fake_store, output_dir=str(out), n_genes=6, batch_size=2, progress=False)
    (out / "keep.txt").write_text("x")
    build_dataset(scores=fake_store, output_dir=str(out), n_genes=3, batch_size=3, progress=False, overwrite=True)
    assert (out / "keep.txt").exists()
    kept = sorted(p.name for p in out.glob("batch_*"))
    assert kept == ["batch_00001_trim.parquet", "batch_00001_trim.parquet.sha256"]
    assert validate_dataset(out).ok


def test_store_of_another_model_is_refused_when_a_model_is_named(tmp_path, capsys):
    need(MODEL_80, MODEL_10K)
    store = tmp_path / "s80"
    one = demo.demo_dir()
    assert main(["predict", "--model", str(MODEL_80), "--scores", str(store), "--subset-policy", "random",
                 "--n-genes", "2", "--no-progress"]) == 0
    capsys.readouterr()
    one_line_error(capsys, ["build", "--scores", str(store), "--model", str(MODEL_10K), "--output-dir",
                            str(tmp_path / "o"), "--subset-policy", "all", "--no-progress"],
                   f"score store {store} was written by a different model")
    assert one.exists()


def _scored_store(fake_store, tmp_path) -> Path:
    return copy_of(Path(fake_store), tmp_path / "store")


def test_corrupt_index_is_one_line(fake_store, tmp_path, capsys):
    store = _scored_store(fake_store, tmp_path)
    (store / "index.parquet").write_bytes(b"PAR1 not really")
    one_line_error(capsys, ["build", "--scores", str(store), "--output-dir", str(tmp_path / "o"), "--no-progress"],
                   f"score store index {store / 'index.parquet'} is corrupt", "delete it and rerun")


def test_deleted_index_names_the_unindexed_chunks(fake_store, tmp_path, capsys):
    store = _scored_store(fake_store, tmp_path)
    (store / "index.parquet").unlink()
    one_line_error(capsys, ["build", "--scores", str(store), "--output-dir", str(tmp_path / "o"), "--no-progress"],
                   "not in its index", "rerun it with the same options to index them")


def test_deleted_chunk_names_the_file(fake_store, tmp_path, capsys):
    store = _scored_store(fake_store, tmp_path)
    chunk = next((store / "scores").glob("*/*.parquet"))
    chunk.unlink()
    rel = chunk.relative_to(store)
    one_line_error(capsys, ["build", "--scores", str(store), "--output-dir", str(tmp_path / "o"), "--n-genes", "500",
                            "--subset-policy", "all", "--no-progress"],
                   f"chunk file {rel} named by its index is missing")
    assert not (tmp_path / "o" / "_SUCCESS").exists()


def test_deleted_chunk_is_rescored_by_predict(demo_ann, tmp_path):
    need(MODEL_80)
    genes = demo_ann.genes.sort("start").head(6)
    fasta = str(demo.demo_fasta())
    score_genes(fasta, genes, str(MODEL_80), tmp_path / "s", progress=False, chunk_genes=3)
    before = ScoreStore(tmp_path / "s").load()
    next((tmp_path / "s" / "scores").glob("*/*.parquet")).unlink()
    res = score_genes(fasta, genes, str(MODEL_80), tmp_path / "s", progress=False, chunk_genes=3)
    assert res["genes_scored"] == 3
    assert ScoreStore(tmp_path / "s").load().equals(before)


@pytest.mark.parametrize("damage", ["manifest", "build_info", "truncated", "unfinished", "not_dataset"])
def test_validate_refuses_damaged_datasets(finished, tmp_path, damage, capsys):
    out = copy_of(finished, tmp_path / "copy")
    if damage == "manifest":
        (out / "gene_manifest.csv").unlink()
        want = "was written by the build and is missing"
    elif damage == "build_info":
        (out / "build_info.json").write_text('{"config": ')
        want = "is corrupt"
    elif damage == "truncated":
        f = next((out / "master").glob("*.parquet"))
        data = f.read_bytes()
        f.unlink()  # a hard link: write a new file, leaving the unit file intact
        f.write_bytes(data[: len(data) // 2])
        want = "changed since the build"
    elif damage == "unfinished":
        (out / "_SUCCESS").unlink()
        (out / "batch_00002_trim.parquet").unlink()
        want = "unfinished build: 1 of 2 units done"
    else:
        for p in out.iterdir():
            if p.is_file():
                p.unlink()
        want = "is not a finished fastbuild dataset"
    rep = validate_dataset(out)
    assert not rep.ok and want in rep.text(), rep.text()
    assert main(["validate", str(out)]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert json.loads(json.dumps(rep.to_dict()))["ok"] is False


def test_bad_inputs_listed_are_tested():
    assert len(BAD_INPUTS) == len(set(BAD_INPUTS)) == 12
    assert pl.Series(BAD_INPUTS).str.contains("^[a-z0-9-]+$").all()


BAD_INPUT_MODULES = ("tests.test_bad_reference_inputs", "tests.test_bad_options",
                     "tests.basemodel.test_model_file_hardening", "tests.test_hardening", "tests.test_splits",
                     "tests.test_track_features", "tests.test_tracks_bad_input")


def bad_input_kinds() -> list[str]:
    import importlib

    sys.path.insert(0, str(REPO / "tests" / "basemodel"))  # that folder's helpers import by bare name
    kinds = []
    for name in BAD_INPUT_MODULES:
        kinds += [f"{name}:{k}" for k in importlib.import_module(name).BAD_INPUTS]
    return kinds


def test_readme_states_the_bad_input_count():
    kinds = bad_input_kinds()
    assert len(kinds) == len(set(kinds))
    assert f"**{len(kinds)} kinds of bad input tested**" in (REPO / "README.md").read_text()
