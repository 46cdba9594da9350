"""The dataset folder: its plan, what a previous build left there, and finalising (publishing).

Layout of ``--output-dir``::

    plan.json                    configuration + input checksums + their hash + the ordered work
                                 units (batch index, file, gene ids); written before any unit runs
    batch_00001_trim.parquet     one file per finished unit (``*.<host>.<pid>.tmp`` while written)
    batch_00001_trim.parquet.sha256   its checksum, recorded by the process that wrote it
    master/batch_00001.parquet   the published dataset: hard links (or copies) of the unit files,
                                 made only by finalise, complete or absent
    gene_manifest.csv            one row per gene (unless --no-manifest)
    build_info.json, BUILD_INFO.md
    report.html, README.md       the dataset report and card (fastbuild.report; a README.md
                                 fastbuild did not write is left alone)
    _SUCCESS                     written last by finalise: hash, unit files and their sha256

A folder is a finished dataset exactly when ``_SUCCESS`` exists. fastbuild deletes only files
it can prove it wrote: the unit files named by the folder's own plan, the fixed names above and
``master/`` links of unit files; a non-empty folder without a plan is refused unless
``--overwrite`` (and even then nothing in it is deleted).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from fastbuild import atomic
from fastbuild.builder import report
from fastbuild.builder.config import describe_changes
from fastbuild.builder.stats import BatchStats
from fastbuild.builder.writer import checksum_path, link_master, master_name, read_footer, unit_checksum
from fastbuild.errors import FastbuildError
from fastbuild.report.config import CARD_FILE, REPORT_FILE, is_fastbuild_card  # written by finalise
from fastbuild.work import protocol

PLAN_FILE = "plan.json"
LEGACY_CONFIG_FILE = "build_config.json"  # fastbuild 0.1's plan (configuration only)
MANIFEST_FILE = "gene_manifest.csv"
INFO_FILE = "build_info.json"
INFO_MARKDOWN = "BUILD_INFO.md"
SUCCESS_FILE = "_SUCCESS"
MASTER = "master"
PLAN_FORMAT = "fastbuild-build-plan/1"
_IGNORED = {".fastbuild.lock", ".fastbuild.workers.lock", "cache"}
_FIXED = (MANIFEST_FILE, INFO_FILE, INFO_MARKDOWN, SUCCESS_FILE, REPORT_FILE)


# ---------------------------------------------------------------------- the plan
def read_plan(out: Path) -> dict | None:
    """The plan recorded in ``out`` (a 0.1 ``build_config.json`` reads as a plan without units)."""
    for name in (PLAN_FILE, LEGACY_CONFIG_FILE):
        path = out / name
        if path.is_file():
            try:
                plan = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise FastbuildError(f"cannot read {path}: {exc}; pass --overwrite to start over") from None
            if not isinstance(plan, dict) or "hash" not in plan:
                raise FastbuildError(f"{path} is not a fastbuild plan; pass --overwrite to start over")
            return plan
    return None


def _interrupted_write(name: str) -> bool:
    """True for the temporary file of one of the build's own top-level files (``plan.json``,
    ``build_info.json``, ...) left by a process killed while writing it (see atomic.tmp_path)."""
    return name.endswith(atomic.TMP_SUFFIX) and any(
        name.startswith(own + ".") for own in (PLAN_FILE, LEGACY_CONFIG_FILE, *_FIXED))


def check_folder(out: Path, overwrite: bool) -> None:
    """Refuse a non-empty folder that is not a fastbuild output (before anything is written).

    The temporary file of a plan that a killed build was writing does not make a folder
    foreign: the build restarts there (the leftover is ignored; every writer uses a name of
    its own)."""
    if read_plan(out) is not None or overwrite:
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in _IGNORED and not _interrupted_write(p.name))
    if foreign:
        raise FastbuildError(
            f"{out} is not empty and holds no fastbuild build (found {', '.join(foreign[:3])}); "
            "use an empty or new --output-dir, or pass --overwrite to build there (nothing in it is deleted)")


def check_previous(out: Path, record: dict, overwrite: bool) -> bool:
    """Compare with a previous build in ``out``; returns True when it may be resumed."""
    old = read_plan(out)
    if old is None:
        return False
    if old.get("hash") == record["hash"] and old.get("units") == record["units"]:
        return not overwrite
    if not overwrite:
        changes = describe_changes({**old.get("config", {}), **old.get("inputs", {})},
                                   {**record["config"], **record["inputs"]}) or "its work units differ"
        raise FastbuildError(
            f"{out} holds a build with a different configuration ({changes}); "
            "rerun with the same options to resume, or pass --overwrite to start over")
    return False


def start(out: Path, record: dict, overwrite: bool) -> None:
    """Resume the build in ``out`` when ``record`` matches it, else clear it; then record ours.

    Either way the folder stops looking finished first: the success marker and ``master/`` go
    before any unit runs, and come back only from :func:`finalise`.
    """
    resume = check_previous(out, record, overwrite)
    unpublish(out)
    if not resume:
        _clear(out, read_plan(out))
    atomic.write_text(out / PLAN_FILE, json.dumps(record, indent=1, sort_keys=True) + "\n")
    legacy = out / LEGACY_CONFIG_FILE
    if legacy.exists():
        legacy.unlink()


def require_plan(out: Path, record: dict) -> None:
    """For ``--unit`` / ``--finalise``: the folder's plan must be this one."""
    old = read_plan(out)
    if old is None or "units" not in old:
        raise FastbuildError(protocol.no_plan_message(str(out)))
    if old["hash"] != record["hash"] or old["units"] != record["units"]:
        changes = describe_changes({**old.get("config", {}), **old.get("inputs", {})},
                                   {**record["config"], **record["inputs"]}) or "its work units differ"
        raise FastbuildError(f"the plan in {out} was made with other options or inputs ({changes}); "
                             "run units with exactly the options given to --plan-only")


def _is_ours(path: Path) -> bool:
    return path.name.startswith("batch_") and (path.name.endswith(".parquet") or path.name.endswith(".tmp"))


def unpublish(out: Path) -> None:
    """Remove the success marker, then ``master/`` (only links of unit files; anything else stays)."""
    marker = out / SUCCESS_FILE
    if marker.exists():
        marker.unlink()
    for folder in (out / MASTER, out / f"{MASTER}.tmp", out / f"{MASTER}.old"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if _is_ours(p) and p.is_file():
                p.unlink()
        try:
            folder.rmdir()
        except OSError:
            foreign = ", ".join(sorted(p.name for p in folder.iterdir())[:3])
            raise FastbuildError(f"{folder} holds files fastbuild did not write ({foreign}); "
                                 "move them elsewhere and rerun") from None


def _clear(out: Path, old: dict | None) -> None:
    """Delete what the previous build recorded in ``old`` wrote (nothing without a plan)."""
    if old is None:
        return
    names = [u["file"] for u in old.get("units", [])]
    if "units" not in old:  # 0.1 recorded no units: its batch files carry its name pattern
        names = [p.name for p in out.glob("batch_*_trim.parquet")]
    for name in names:
        for p in (out / name, checksum_path(out / name), *out.glob(f"{name}*.tmp")):
            if p.exists():
                p.unlink()
    for name in _FIXED:
        if (out / name).exists():
            (out / name).unlink()
    _clear_card(out / CARD_FILE)


def _clear_card(card: Path) -> None:
    """Delete the dataset card of the previous build, if fastbuild wrote it (never the user's README.md)."""
    if is_fastbuild_card(card):
        card.unlink()


# ---------------------------------------------------------------------- units
def unit_problem(out: Path, unit: dict, config_hash: str) -> tuple[BatchStats | None, str | None]:
    """(statistics, None) when unit ``unit`` of the plan is finished with this configuration, else (None, why)."""
    path = out / unit["file"]
    if not path.exists():
        return None, "missing"
    stats, n_rows = read_footer(path)
    if stats is None:
        return None, "unreadable or unfinished"
    if stats.config_hash != config_hash:
        return None, "written with another configuration"
    if [g.gene_id for g in stats.genes] != unit["genes"]:
        return None, "holds other genes than planned"
    if n_rows != stats.rows:
        return None, f"holds {n_rows} rows, its statistics say {stats.rows}"
    return stats, None


def require_finished(out: Path) -> dict:
    """The success marker of a finished dataset folder, or FastbuildError saying how far it got."""
    out = Path(out)
    marker = out / SUCCESS_FILE
    if marker.is_file():
        try:
            return json.loads(marker.read_text())
        except (OSError, ValueError) as exc:
            raise FastbuildError(f"cannot read {marker}: {exc}") from None
    plan = read_plan(out) if out.is_dir() else None
    if plan is None or "units" not in plan:
        raise FastbuildError(f"{out} is not a finished fastbuild dataset (no {SUCCESS_FILE}, no {PLAN_FILE})")
    done, problems = protocol.collect_states(plan["units"], lambda u: unit_problem(out, u, plan["hash"]))
    raise FastbuildError(protocol.unfinished_message(str(out), "build", len(done), len(plan["units"]),
                                                     problems or ["all units done, not finalised"]))


def master_files(build_dir) -> list[Path]:
    """The parquet files of a finished build folder (``_SUCCESS`` present), sorted by name."""
    out = Path(build_dir)
    require_finished(out)
    files = sorted((out / MASTER).glob("*.parquet"))
    if not files:
        raise FastbuildError(f"{out / MASTER} holds no parquet file")
    return files


# ---------------------------------------------------------------------- finalise
def finalise(out: Path, record: dict, manifest: pl.DataFrame | None, info: dict,
             extra_files: dict[str, str] | None = None) -> dict:
    """Publish a build whose every unit is finished: manifest, build_info, ``extra_files`` (name ->
    text: the report), ``master/``, then ``_SUCCESS``.

    Returns the success marker's content. ``master/`` is assembled as ``master.tmp/`` and renamed,
    so it is complete or absent; the marker is written last.
    """
    unpublish(out)
    sums = {u["file"]: unit_checksum(out / u["file"]) for u in record["units"]}
    if manifest is not None:
        with atomic.atomic_path(out / MANIFEST_FILE) as tmp:
            manifest.write_csv(tmp)
    elif (out / MANIFEST_FILE).exists():
        (out / MANIFEST_FILE).unlink()
    atomic.write_text(out / INFO_FILE, json.dumps(info, indent=1) + "\n")
    atomic.write_text(out / INFO_MARKDOWN, report.build_info_markdown(info))
    for name, text in (extra_files or {}).items():
        atomic.write_text(out / name, text)
    staging = out / f"{MASTER}.tmp"
    staging.mkdir()
    for u in record["units"]:
        link_master(out / u["file"], staging / master_name(u["index"]))
    atomic.fsync_dir(staging)
    os.replace(staging, out / MASTER)
    atomic.fsync_dir(out)
    marker = {"format": PLAN_FORMAT, "hash": record["hash"], "units": len(record["units"]),
              "rows": info.get("rows"), "manifest": manifest is not None, "sha256": sums}
    atomic.write_text(out / SUCCESS_FILE, json.dumps(marker, indent=1, sort_keys=True) + "\n")
    return marker
