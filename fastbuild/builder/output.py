"""The dataset folder: what a previous build left there, and the files published at the end.

Layout of ``--output-dir``::

    build_config.json            configuration + input checksums + their hash (written first)
    batch_00001_trim.parquet     finished batch files (``*.tmp`` while being written)
    master/batch_00001.parquet   the dataset: hard links (or copies) of the batch files
    gene_manifest.csv            one row per gene (unless --no-manifest)
    build_info.json, BUILD_INFO.md
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

from fastbuild import atomic
from fastbuild.builder import report
from fastbuild.builder.config import describe_changes
from fastbuild.builder.stats import BatchStats
from fastbuild.builder.writer import batch_name, link_master, master_name, read_stats
from fastbuild.errors import FastbuildError

CONFIG_FILE = "build_config.json"
MANIFEST_FILE = "gene_manifest.csv"
INFO_FILE = "build_info.json"
INFO_MARKDOWN = "BUILD_INFO.md"


def check_previous(out: Path, record: dict, overwrite: bool) -> bool:
    """Compare with a previous build in ``out``; returns True when it may be resumed."""
    path = out / CONFIG_FILE
    if not path.is_file():
        leftovers = list(out.glob("batch_*_trim.parquet"))
        if leftovers and not overwrite:
            raise FastbuildError(
                f"{out} holds batch files but no {CONFIG_FILE}; use --overwrite or another --output-dir")
        return False
    old = json.loads(path.read_text())
    if old.get("hash") == record["hash"]:
        return not overwrite
    if not overwrite:
        changes = describe_changes({**old.get("config", {}), **old.get("inputs", {})},
                                   {**record["config"], **record["inputs"]})
        raise FastbuildError(
            f"{out} holds a build with a different configuration ({changes}); "
            "rerun with the same options to resume, or pass --overwrite to start over"
        )
    return False


def start(out: Path, record: dict, overwrite: bool) -> None:
    """Resume the build in ``out`` when ``record`` matches it, else clear it; then record ours."""
    if not check_previous(out, record, overwrite):
        _clear(out)
    atomic.write_text(out / CONFIG_FILE, json.dumps(record, indent=1, sort_keys=True) + "\n")


def _clear(out: Path) -> None:
    for p in [*out.glob("batch_*_trim.parquet*"), out / MANIFEST_FILE, out / INFO_FILE, out / INFO_MARKDOWN]:
        if p.exists():
            p.unlink()
    if (out / "master").is_dir():
        shutil.rmtree(out / "master")


def finished_batch(out: Path, index: int, config_hash: str) -> BatchStats | None:
    """Statistics of batch ``index`` when it is finished with this configuration (then linked into master/)."""
    path = out / batch_name(index)
    stats = read_stats(path) if path.exists() else None
    if stats is None or stats.config_hash != config_hash:
        return None
    link_master(path, out / "master" / master_name(index))
    return stats


def publish(out: Path, manifest: pl.DataFrame | None, info: dict) -> None:
    """Write the manifest (unless None), build_info.json and BUILD_INFO.md, each atomically."""
    if manifest is not None:
        with atomic.atomic_path(out / MANIFEST_FILE) as tmp:
            manifest.write_csv(tmp)
    atomic.write_text(out / INFO_FILE, json.dumps(info, indent=1) + "\n")
    atomic.write_text(out / INFO_MARKDOWN, report.build_info_markdown(info))
