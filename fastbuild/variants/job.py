"""``fastbuild variants`` as a job of the run protocol: plan -> units of VCF records -> finalise.

The steps::

    job = plan_variants(config)         # --plan-only: read and check the VCF, split it into units
    job = open_variants_plan(config)    # the plan recorded in the work folder
    run_variants_unit(job, j)           # --unit J (idempotent)
    finalise_variants(job)              # --finalise: the output VCF, once every unit is finished
    annotate_vcf(config)                # all three, the units on an executor (a rerun resumes)

Planning reads the whole VCF once and checks it (header, every record's columns), so a bad
input stops before anything is scored; the units are chunks of ``--chunk-records`` records, in
input order, copied into the work folder (``OUT.parts/`` by default). Finalising writes the
header (with the annotation's ``##INFO`` line) and every unit's lines, in input order, under a
temporary name, then renames it to the output: the output is complete or absent.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

from fastbuild.atomic import atomic_path, ensure_dir, write_text
from fastbuild.errors import FastbuildError
from fastbuild.files import check_input_file, sha256_file
from fastbuild.variants import semantics, vcf
from fastbuild.variants.config import VariantsConfig
from fastbuild.variants.genes import resolve_annotation
from fastbuild.variants.unit import UnitTask, release, run_unit_task, unit_paths
from fastbuild.work import Executor, Task, make_executor, protocol
from fastbuild.work.protocol import Job

__all__ = ["VariantJob", "annotate_vcf", "finalise_variants", "open_variants_plan", "plan_variants",
           "run_variants_unit"]

log = logging.getLogger(__name__)
PLAN_FILE = "plan.json"
PLAN_FORMAT = "fastbuild-variants-plan/1"
REASON_DESCRIPTION = ("Why fastbuild variants gave this record no {key} annotation: outside_genes, near_contig_end, "
                      "deletion_too_long, ref_mismatch, unknown_contig, symbolic_allele, breakend_allele, "
                      "missing_allele")


def _config(config: VariantsConfig | None, options: dict) -> VariantsConfig:
    config = (config or VariantsConfig()).replace(**options)
    if config.vcf is None or config.out is None:
        raise FastbuildError("variants needs an input VCF (-I/--vcf) and an output VCF (-O/--out)")
    if config.inputs.fasta is None and config.inputs.reference is None:
        raise FastbuildError("variants needs the genome (-R/--fasta) and an annotation (-A/--annotation), "
                             "or --reference DIR")
    return config


def work_dir(config: VariantsConfig) -> Path:
    """The folder of the plan and the units (``--work-dir``, default ``OUT.parts``)."""
    return Path(config.work_dir) if config.work_dir else Path(str(config.out) + ".parts")


def _inputs(config: VariantsConfig):
    from fastbuild.reference import prepared_fasta

    spec = resolve_annotation(config.inputs)
    if spec.fasta is None:
        from dataclasses import replace

        spec = replace(spec, fasta=prepared_fasta(spec.reference))
    return spec


def _model_files(model: str) -> list[Path]:
    """The weight files ``--model`` names (FastbuildError when there are none); the model is loaded by the units."""
    from fastbuild.basemodel.models import find_spliceai_weights

    if model == "spliceai":
        return find_spliceai_weights()
    path = Path(model)
    files = sorted(p for p in path.iterdir() if p.suffix in (".h5", ".pt")) if path.is_dir() else [path]
    if not files or not all(p.is_file() for p in files):
        raise FastbuildError(f"--model {model}: no such model file or folder of .h5 / .pt files")
    return files


def _plan_key(config: VariantsConfig, spec) -> str:
    check_input_file(spec.fasta, "FASTA file")
    if spec.annotation:
        check_input_file(spec.annotation, "annotation")
    parts = [PLAN_FORMAT, config.identity(), sha256_file(config.vcf), str(Path(spec.fasta).absolute()),
             sha256_file(spec.annotation) if spec.annotation else str(Path(spec.reference).absolute()),
             [sha256_file(p) for p in _model_files(str(config.model))]]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


class _Order:
    """Notes the line of the first record out of order (a contig seen before, or a position going back)."""

    def __init__(self):
        self.seen, self.last, self.unsorted = set(), (None, 0), None

    def add(self, rec) -> None:
        chrom, pos = self.last
        if self.unsorted is None and ((rec.chrom != chrom and rec.chrom in self.seen)
                                      or (rec.chrom == chrom and rec.pos < pos)):
            self.unsorted = rec.lineno
        self.seen.add(rec.chrom)
        self.last = (rec.chrom, rec.pos)


def _split(config: VariantsConfig, folder: Path) -> dict:
    """Read and check the VCF; write its records in chunks into ``folder/units``; the plan's content."""
    path = Path(config.vcf)
    units, order, out = [], _Order(), None
    ensure_dir(folder / "units")
    try:
        with vcf.open_vcf(path) as fh:
            header, n_header = vcf.read_header(fh, path)
            for count, rec in enumerate(vcf.iter_records(fh, path, n_header)):
                if count % config.chunk_records == 0:
                    if out is not None:
                        out.close()
                    paths = unit_paths(folder, len(units) + 1)
                    units.append({"index": len(units) + 1, "records": 0, "first_line": rec.lineno,
                                  "file": paths["out"].name})
                    out = open(paths["in"], "w", encoding="utf-8")
                out.write(f"{rec.lineno}\t{rec.line}\n")
                units[-1]["records"] += 1
                order.add(rec)
    finally:
        if out is not None:
            out.close()
    return {"header": header, "units": units, "records": sum(u["records"] for u in units),
            "unsorted_line": order.unsorted}


def plan_variants(config: VariantsConfig | None = None, **options) -> VariantJob:
    """Check the inputs, read the VCF and record the plan in the work folder (``--plan-only``).

    A plan of the same configuration and inputs already there is reused (a rerun resumes);
    any other content of the work folder is replaced.
    """
    config = _config(config, options)
    spec = _inputs(config)
    check_input_file(config.vcf, "VCF file")
    key = _plan_key(config, spec)
    folder = work_dir(config)
    plan = _read_plan(folder)
    if plan is None or plan.get("key") != key:
        if folder.exists():
            shutil.rmtree(folder)
        tmp = folder.with_name(folder.name + ".planning")
        if tmp.exists():
            shutil.rmtree(tmp)
        try:
            plan = {"format": PLAN_FORMAT, "key": key, **_split(config, tmp)}
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        write_text(tmp / PLAN_FILE, json.dumps(plan))
        tmp.rename(folder)
    if plan["unsorted_line"]:
        log.warning("%s is not sorted (line %d); output keeps the input order", config.vcf, plan["unsorted_line"])
    return VariantJob(config, spec, plan, folder)


def _read_plan(folder: Path) -> dict | None:
    try:
        return json.loads((folder / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return None


def open_variants_plan(config: VariantsConfig | None = None, **options) -> VariantJob:
    """The plan :func:`plan_variants` recorded for this configuration (FastbuildError when none)."""
    config = _config(config, options)
    spec = _inputs(config)
    folder = work_dir(config)
    plan = _read_plan(folder)
    if plan is None:
        raise FastbuildError(protocol.no_plan_message(str(folder)))
    if plan.get("key") != _plan_key(config, spec):
        raise FastbuildError(f"the plan in {folder} was made for other inputs or options; run --plan-only again")
    return VariantJob(config, spec, plan, folder)


class VariantJob(Job):
    """Annotating a VCF, as the protocol sees it: units are chunks of records, in input order.

    Made by :func:`plan_variants` (or :func:`open_variants_plan` for ``--unit`` / ``--finalise``).
    """

    items = "records"

    def __init__(self, config: VariantsConfig, spec, plan: dict, folder: Path):
        self.config, self.spec, self.plan, self.folder = config, spec, plan, folder
        self.source = config.model  # tasks name the model; each process loads it once (unit.py keeps it)
        self.threads = config.threads
        self.noun, self.where = f"variant plan {plan['key']}", f"work folder {folder}"
        self.units = [{**u, "genes": range(u["records"])} for u in plan["units"]]
        self.t0 = time.perf_counter()

    def unit_state(self, unit: dict):
        paths = unit_paths(self.folder, unit["index"])
        if paths["stats"].is_file() and paths["out"].is_file():
            try:
                return json.loads(paths["stats"].read_text()), None
            except (OSError, ValueError):
                return None, "unreadable statistics"
        return None, "missing"

    def task(self, unit: dict) -> Task:
        c = self.config
        arg = UnitTask(str(self.folder), unit["index"], unit["first_line"], str(c.vcf), self.spec, self.source,
                       c.distance, c.mask, c.backend, self.threads, c.info_key, c.reason_tag,
                       None if c.rows is None else str(c.rows), c.label_field, tuple(c.label_map),
                       tuple(c.rows_kmer_sizes), tuple(c.rows_context_flank))
        return Task(f"variants-{self.plan['key']}-{unit['index']:05d}", run_unit_task, arg, items=unit["records"])

    def progress_note(self, items: int, amount: int) -> str:
        rate = amount / max(time.perf_counter() - self.t0, 1e-9) * 3600
        return f"{rate:,.0f} records/h" if amount else ""

    def publish(self, results: list) -> dict:
        c = self.config
        _write_output(self, Path(c.out))
        if c.reasons:
            _write_reasons(self, Path(c.reasons))
        if c.rows is not None:
            from fastbuild.variants.rows import finalise_rows

            finalise_rows(Path(c.rows), self.folder, self.plan, results)
        summary = _summary(self, results)
        shutil.rmtree(self.folder, ignore_errors=True)
        return summary


def _header(job: VariantJob) -> list[str]:
    c = job.config
    lines = {c.info_key: vcf.header_info_line(c.info_key, ".", "String", semantics.INFO_DESCRIPTION)}
    if c.reason_tag:
        lines[c.reason_tag] = vcf.header_info_line(c.reason_tag, ".", "String",
                                                   REASON_DESCRIPTION.format(key=c.info_key))
    return vcf.with_info_lines(job.plan["header"], lines)


def _write_output(job: VariantJob, out: Path) -> None:
    """Header, then every unit's lines in plan order, under a temporary name renamed to ``out``."""
    ensure_dir(out.parent if str(out.parent) else Path("."))
    with atomic_path(out) as tmp:
        opener = gzip.open if vcf.is_bgzip_name(out) else open
        with opener(tmp, "wt", encoding="utf-8", newline="") as fh:
            fh.write("".join(h + "\n" for h in _header(job)))
            for unit in job.units:
                with open(unit_paths(job.folder, unit["index"])["out"], encoding="utf-8", newline="") as part:
                    shutil.copyfileobj(part, fh)


def _write_reasons(job: VariantJob, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write("line\tchrom\tpos\tref\talt\treason\n")
        for unit in job.units:
            fh.write(unit_paths(job.folder, unit["index"])["reasons"].read_text(encoding="utf-8"))


def _summary(job: VariantJob, results: list) -> dict:
    reasons: dict = {}
    for r in results:
        for k, v in r["reasons"].items():
            reasons[k] = reasons.get(k, 0) + v
    records = sum(r["records"] for r in results)
    dt = time.perf_counter() - job.t0
    return {"output": str(job.config.out), "records": records,
            "annotated_records": sum(r["annotated"] for r in results),
            "unannotated_records": records - sum(r["annotated"] for r in results),
            "entries": sum(r["entries"] for r in results), "scored_entries": sum(r["scored"] for r in results),
            "unannotated_alleles": dict(sorted(reasons.items())), "sorted": not job.plan["unsorted_line"],
            "units": len(job.units), "resumed_units": job.resumed, "seconds": round(dt, 3),
            "records_per_hour": round(records / dt * 3600) if dt > 0 else None}


def run_variants_unit(job: VariantJob, number: int) -> dict:
    """Annotate unit ``number`` (1-based) of a recorded plan (``--unit J``); nothing when it is finished."""
    done = protocol.run_unit(job, number)
    done.pop("result")
    return {**done, "records": job.units[done["unit"] - 1]["records"]}


def finalise_variants(job: VariantJob) -> dict:
    """Write the output VCF once every unit is finished (``--finalise``); refuses, naming missing units."""
    return protocol.finalise(job)


def _share_threads(job: VariantJob, executor: Executor) -> None:
    from fastbuild.basemodel.runner import default_threads

    jobs = getattr(executor, "jobs", None)
    if job.threads is None and jobs and jobs > 1 and len(job.units) > 1:
        job.threads = max(1, default_threads() // min(jobs, len(job.units)))


def annotate_vcf(config: VariantsConfig | None = None, *, executor: Executor | None = None, client=None,
                 **options) -> dict:
    """Annotate a VCF with SpliceAI delta scores: plan, run every unit, finalise (a rerun resumes).

    Returns
    -------
    dict
        output, records, annotated_records, unannotated_records, entries, scored_entries,
        unannotated_alleles (count per reason), sorted, units, resumed_units, seconds,
        records_per_hour.
    """
    config = _config(config, options)
    job = plan_variants(config)
    run = config.run
    executor = executor or make_executor(run.jobs, dask_scheduler=run.dask_scheduler,
                                         scheduler_file=run.scheduler_file, client=client)
    _share_threads(job, executor)
    try:
        return protocol.run_all(job, executor, run.progress)[0]
    finally:
        release()
