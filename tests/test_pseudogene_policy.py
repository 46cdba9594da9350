"""Training builds leave out pseudogenes by default; evaluation builds keep every gene type; a training
build made mostly of genes without annotated splice sites says so in one line (issue 25).

Real parts: the embedded demo (real Arabidopsis genes and OpenSpliceAI scores) holds three genes of
pseudogene types (AT1G02136, AT1G02228, AT1G02681) and tRNA / miRNA / lncRNA genes without introns.
"""

from __future__ import annotations

import logging

import polars as pl
import pytest

from fastbuild import build_dataset
from fastbuild.builder.config import BuildConfig, config_hash
from fastbuild.errors import FastbuildError
from fastbuild.selection import is_pseudogene_type, select_genes, unspliced_warning

PSEUDO = ["AT1G02136", "AT1G02228", "AT1G02681"]
SPLICED = ["AT1G01010", "AT1G01020"]  # protein-coding, with introns


def _ids_file(tmp_path, ids):
    path = tmp_path / "genes.txt"
    path.write_text("\n".join(ids) + "\n")
    return str(path)


def _genes(**options) -> set[str]:
    return set(build_dataset(output_dir=None, progress=False, **options).to_polars()["gene_id"].unique())


def test_pseudogene_types_are_recognised_by_name():
    for t in ("pseudogene", "transcribed_pseudogene", "processed_pseudogene", "IG_V_pseudogene", "Pseudogene"):
        assert is_pseudogene_type(t), t
    for t in ("protein_coding", "lncRNA", "tRNA", None, ""):
        assert not is_pseudogene_type(t), t


def test_training_builds_drop_pseudogenes_and_eval_builds_keep_them(tmp_path):
    ids = _ids_file(tmp_path, PSEUDO + SPLICED)
    common = {"subset_policy": "custom", "gene_ids_file": ids}
    assert _genes(**common) == set(SPLICED)
    assert _genes(pseudogenes="keep", **common) == set(PSEUDO + SPLICED)
    assert _genes(eval_mode=True, **common) == set(PSEUDO + SPLICED)
    assert _genes(eval_mode=True, pseudogenes="drop", **common) == set(PSEUDO + SPLICED)


def test_a_training_build_of_pseudogenes_only_names_the_flag(tmp_path):
    with pytest.raises(FastbuildError, match="--pseudogenes keep"):
        build_dataset(output_dir=None, progress=False, subset_policy="custom",
                      gene_ids_file=_ids_file(tmp_path, PSEUDO))


def test_build_info_lists_the_genes_left_out(tmp_path):
    ids = _ids_file(tmp_path, PSEUDO + SPLICED)
    info = build_dataset(output_dir=str(tmp_path / "out"), progress=False, subset_policy="custom",
                         gene_ids_file=ids).info
    assert sorted(info["selection"]["dropped_by_gene_type"]) == PSEUDO
    assert set(info["gene_types"]) == {"protein_coding"}
    assert any("pseudogene" in note for note in info["selection"]["notes"])


def test_the_hash_changes_only_where_the_rows_do():
    keep = BuildConfig().replace(pseudogenes="keep")
    assert "pseudogenes" not in keep.rows_relevant()  # the hash of builds before the option: old folders resume
    assert BuildConfig().rows_relevant()["pseudogenes"] == "drop"
    for value in ("drop", "keep"):  # evaluation builds keep every type whatever the option says
        ev = BuildConfig().replace(eval_mode=True, pseudogenes=value)
        assert config_hash(ev.rows_relevant()) == config_hash(keep.replace(eval_mode=True).rows_relevant())
    with pytest.raises(FastbuildError, match="pseudogenes"):
        BuildConfig().replace(pseudogenes="sometimes")


def test_select_genes_drops_pseudogene_candidates_and_requested_ones():
    genes = pl.DataFrame({"gene_id": ["a", "b", "c", "d"], "gene_name": ["A", "B", "C", "D"],
                          "gene_type": ["protein_coding", "pseudogene", "lncRNA", "processed_pseudogene"]})
    sel = select_genes(genes, ["a", "b", "c", "d"], "all", 10, 1, extra_ids=["b"], drop_pseudogenes=True)
    assert sel.gene_ids == ["a", "c"] and sel.dropped_by_type == ["b"]
    assert select_genes(genes, ["a", "b", "c", "d"], "all", 10, 1).gene_ids == ["a", "b", "c", "d"]


def _table(types_and_sites):
    return pl.DataFrame({"gene_type": [t for t, _ in types_and_sites],
                         "n_splice_sites": [n for _, n in types_and_sites]})


def test_unspliced_warning_fires_only_when_most_genes_are_of_unspliced_types():
    mostly_bare = _table([("tRNA", 0)] * 5 + [("miRNA", 0)] * 2 + [("protein_coding", 12)] * 3)
    line = unspliced_warning(mostly_bare)
    assert line is not None and "\n" not in line
    assert "7 of its 10 genes (70%)" in line and "tRNA 5, miRNA 2" in line and "--gene-types" in line
    assert unspliced_warning(_table([("tRNA", 0)] * 5 + [("protein_coding", 8)] * 5)) is None  # half: no warning
    # a type counts as spliced when at least half of its genes have an annotated site
    assert unspliced_warning(_table([("lncRNA", 2)] * 3 + [("lncRNA", 0)] * 2 + [("tRNA", 0)] * 4)) is None
    assert unspliced_warning(_table([])) is None


def test_a_real_build_warns_in_training_mode_only(tmp_path, caplog):
    bare = ["AT1G01046", "AT1G01183", "AT1G03987"]  # demo miRNA, miRNA, lncRNA genes without annotated sites
    ids = _ids_file(tmp_path, [*bare, SPLICED[0]])
    with caplog.at_level(logging.WARNING):
        build_dataset(output_dir=None, progress=False, subset_policy="custom", gene_ids_file=ids)
    lines = [r.getMessage() for r in caplog.records if "--gene-types" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("training build: 3 of its 4 genes (75%)"), lines
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        build_dataset(output_dir=None, progress=False, subset_policy="custom", gene_ids_file=ids, eval_mode=True)
    assert not [r for r in caplog.records if "--gene-types" in r.getMessage()]
