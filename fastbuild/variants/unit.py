"""The work unit of ``fastbuild variants``: one chunk of VCF records, annotated by whichever process runs it.

A :class:`UnitTask` names everything by path (VCF chunk, genome, annotation, model), so it pickles
small for worker processes and Dask; each process keeps the genome, genes, model and runner it
opened for its next unit (:func:`release` closes them). A unit writes its annotated lines, its
reasons table, its rows (``--rows``) and, last, its statistics (``unit-NNNNN.json``: what marks
it finished), each under a temporary name then renamed, so running it twice gives the same files.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from fastbuild.atomic import atomic_path, write_text
from fastbuild.variants.config import ROWS_CONTEXT_FLANK, ROWS_KMER_SIZES
from fastbuild.work import report_progress

__all__ = ["BATCH_RECORDS", "UnitTask", "release", "run_unit_task", "unit_paths"]

BATCH_RECORDS = 250  # records per engine call (bounds memory; the reference is shared within a batch)
_open: dict = {}


@dataclass(frozen=True)
class UnitTask:
    """One chunk of records to annotate (see the module docstring)."""

    work_dir: str
    index: int
    first_line: int  # line number of the chunk's first record in the input VCF
    vcf: str  # the input VCF, named in messages
    inputs: object  # InputSpec (annotation resolved)
    model: object  # load_model argument or Model
    distance: int
    mask: int
    backend: str
    threads: int | None
    info_key: str
    reason_tag: str | None
    rows_dir: str | None = None
    label_field: str | None = None
    label_map: tuple = ()
    rows_kmer_sizes: tuple = ROWS_KMER_SIZES
    rows_context_flank: tuple = ROWS_CONTEXT_FLANK


def unit_paths(work_dir, index: int) -> dict:
    """Files of unit ``index``: in (its records), out (annotated lines), reasons (TSV), stats (JSON)."""
    base = Path(work_dir) / "units" / f"unit-{index:05d}"
    return {"in": base.with_suffix(".in.vcf"), "out": base.with_suffix(".out.vcf"),
            "reasons": base.with_suffix(".reasons.tsv"), "stats": base.with_suffix(".json")}


def _cached(key: tuple, make):
    if key not in _open:
        _open[key] = make()
    return _open[key]


def _context(task: UnitTask):
    from fastbuild.basemodel.backends import make_runner
    from fastbuild.basemodel.models import Model, load_model
    from fastbuild.genome import Genome
    from fastbuild.variants.annotate import Context
    from fastbuild.variants.genes import load_genes

    spec = task.inputs
    genome = _cached(("genome", spec.fasta), lambda: Genome(spec.fasta))
    genes = _cached(("genes", repr(spec)), lambda: load_genes(spec, genome)[0])
    model = task.model if isinstance(task.model, Model) else _cached(("model", repr(task.model)),
                                                                      lambda: load_model(task.model))
    runner = _cached(("runner", model.spec.digest, task.backend, task.threads),
                     lambda: make_runner(model, task.backend, task.threads))
    return Context(genome, genes, runner, model.flank, task.distance, task.mask)


def release() -> None:
    """Close the genomes and runners this process keeps open."""
    for key, obj in list(_open.items()):
        if key[0] in ("runner", "genome"):
            obj.close()
    _open.clear()


def _records(task: UnitTask, path: Path) -> list:
    from fastbuild.variants.vcf import parse_record

    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        lineno, _, text = line.partition("\t")
        out.append(parse_record(text, int(lineno), task.vcf))
    return out


def _annotated_line(task: UnitTask, rec, res) -> str:
    from fastbuild.variants.vcf import set_info

    entries = ",".join(res.entries) if res.entries else None
    values = {task.info_key: entries}
    if task.reason_tag:
        values[task.reason_tag] = None if res.entries else ",".join(sorted({why for _, why in res.reasons}))
    return set_info(rec.line, values)


def run_unit_task(task: UnitTask) -> dict:
    """Annotate the unit's records and write its files (unless finished already); returns its statistics."""
    from fastbuild.variants.annotate import annotate_records

    paths = unit_paths(task.work_dir, task.index)
    if paths["stats"].is_file():
        return json.loads(paths["stats"].read_text())
    t0 = time.perf_counter()
    ctx = _context(task)
    records = _records(task, paths["in"])
    lines, reasons, rows = [], [], []
    stats = {"records": len(records), "annotated": 0, "entries": 0, "scored": 0, "reasons": {}}
    for b in range(0, len(records), BATCH_RECORDS):
        batch = records[b : b + BATCH_RECORDS]
        results = annotate_records(batch, ctx, keep_scores=task.rows_dir is not None)
        for rec, res in zip(batch, results, strict=True):
            lines.append(_annotated_line(task, rec, res))
            _count(stats, res)
            reasons += [f"{rec.lineno}\t{rec.chrom}\t{rec.pos}\t{rec.ref}\t{alt}\t{why}" for alt, why in res.reasons]
            if task.rows_dir is not None:
                rows.append((rec, res))
        report_progress(len(batch), len(batch))
    _write_unit(task, paths, lines, reasons, rows, ctx.genome)
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    write_text(paths["stats"], json.dumps(stats))
    return stats


def _count(stats: dict, res) -> None:
    stats["annotated"] += 1 if res.entries else 0
    stats["entries"] += len(res.entries)
    stats["scored"] += sum(1 for e in res.entries if not e.endswith("|.|.|.|.|.|.|.|."))
    for _, why in res.reasons:
        stats["reasons"][why] = stats["reasons"].get(why, 0) + 1


def _write_unit(task: UnitTask, paths: dict, lines: list, reasons: list, rows: list, genome) -> None:
    with atomic_path(paths["out"]) as tmp:
        Path(tmp).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    write_text(paths["reasons"], "".join(r + "\n" for r in reasons))
    if task.rows_dir is not None:
        from fastbuild.variants.rows import write_rows

        write_rows(task, rows, genome)
