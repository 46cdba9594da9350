"""``fastbuild build``: select genes, then build batch files gene batch by gene batch.

Per batch: load the batch's genes' scores (only the score-store chunks that hold them), decode
each gene's strand-oriented sequence once, label every position and draw the downsampling
mask on cheap per-position arrays, featurise only the kept rows, and stream record batches of
at most ``batch_rows`` rows into the batch file. Peak memory therefore follows
``batch_rows`` and the largest gene, not the number of genes.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

import fastbuild_kernels as kernels
from fastbuild import atomic, demo
from fastbuild.annotation import Annotation, load_annotation
from fastbuild.builder import report
from fastbuild.builder.config import BuildConfig, config_hash, describe_changes
from fastbuild.builder.lock import OutputLock
from fastbuild.builder.columns import ColumnBuffer
from fastbuild.builder.rows import GeneInput, GeneTally, TranscriptSites, gene_chunks
from fastbuild.builder.schema import make_schema
from fastbuild.builder.scores import iter_gene_scores
from fastbuild.builder.selection import Selection, read_gene_ids, select_genes
from fastbuild.builder.writer import BatchFileWriter, batch_name, link_master, master_name, read_stats
from fastbuild.contigs import read_alias_file
from fastbuild.coords import to_offset
from fastbuild.errors import FastbuildError
from fastbuild.genome import Genome
from fastbuild.prepare import attach_genome
from fastbuild.progress import Progress

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Inputs:
    """Resolved input paths of a build."""

    fasta: str
    annotation: str | None
    reference: str | None
    scores: str | None
    demo: bool = False


def resolve_inputs(config: BuildConfig) -> Inputs:
    """Fill in defaults: no genome/annotation flags at all means the embedded demo."""
    if config.fasta is None and config.annotation is None and config.reference is None:
        scores = config.scores or (str(demo.demo_scores()) if config.model is None else None)
        return Inputs(str(demo.demo_fasta()), str(demo.demo_annotation()), None, scores, demo=True)
    fasta = config.fasta
    if config.reference is not None:
        ref = Path(config.reference)
        info = ref / "prepare_info.json"
        if not info.is_file():
            raise FastbuildError(f"{ref} is not a fastbuild prepare output (no prepare_info.json); run fastbuild prepare first")
        if fasta is None:
            fasta = json.loads(info.read_text())["fasta"]
    return Inputs(str(fasta), config.annotation, config.reference, config.scores)


def load_reference(inputs: Inputs, config: BuildConfig, genome: Genome) -> Annotation:
    """Reference tables: from a prepared folder, or parsed now and fitted to the genome."""
    if inputs.reference is not None:
        ref = Path(inputs.reference)
        tables = {}
        for name in ("genes", "transcripts", "exons", "introns", "splice_sites"):
            path = ref / f"{name}.parquet"
            if not path.is_file():
                raise FastbuildError(f"{path} is missing; rerun fastbuild prepare")
            tables[name] = pl.read_parquet(path)
        return Annotation(**tables)
    aliases = read_alias_file(config.chrom_alias) if config.chrom_alias else None
    ann = load_annotation(inputs.annotation, config.annotation_format)
    ann, skipped = attach_genome(ann, genome, aliases)
    ann.summary.update(skipped)
    return ann


def fingerprints(inputs: Inputs) -> dict:
    """sha256 of every input file (score stores: their metadata and index)."""
    out = {"fasta": report.sha256_file(inputs.fasta)}
    if inputs.annotation:
        out["annotation"] = report.sha256_file(inputs.annotation)
    if inputs.reference:
        out["reference"] = {n: report.sha256_file(Path(inputs.reference) / f"{n}.parquet")
                            for n in ("genes", "transcripts", "splice_sites")}
    if inputs.scores and Path(inputs.scores).is_dir():
        out["scores"] = {n: report.sha256_file(Path(inputs.scores) / n)
                         for n in ("store.json", "index.parquet") if (Path(inputs.scores) / n).is_file()}
    return out


# ---------------------------------------------------------------------------- per gene data
def _score_store(path):
    from fastbuild.basemodel.store import ScoreStore

    return ScoreStore(path)


@dataclass
class GeneSites:
    """Annotated sites of one gene (one row per transcript x site), as numpy arrays."""

    position: np.ndarray
    is_donor: np.ndarray
    transcript_id: np.ndarray

    def offsets(self, info: dict, transcript_id: str | None = None):
        """Unique donor and acceptor offsets (transcript orientation) within the gene."""
        sel = slice(None) if transcript_id is None else self.transcript_id == transcript_id
        pos, donor = self.position[sel], self.is_donor[sel]
        args = (info["start"], info["end"], info["strand"])
        return np.unique(to_offset(pos[donor], *args)), np.unique(to_offset(pos[~donor], *args))


def _sites_by_gene(splice_sites: pl.DataFrame, gene_ids: pl.Series) -> dict:
    """gene_id -> :class:`GeneSites` for ``gene_ids`` (one pass, no per-gene filtering)."""
    s = splice_sites.filter(pl.col("gene_id").is_in(gene_ids.implode())).sort("gene_id")
    if s.height == 0:
        return {}
    gid = s["gene_id"].to_numpy()
    pos = s["position"].to_numpy()
    donor = (s["site_type"] == "donor").to_numpy()
    tx = s["transcript_id"].to_numpy()
    bounds = np.flatnonzero(gid[1:] != gid[:-1]) + 1
    starts, stops = np.concatenate([[0], bounds]), np.concatenate([bounds, [gid.size]])
    return {gid[a]: GeneSites(pos[a:b], donor[a:b], tx[a:b]) for a, b in zip(starts, stops)}


_NO_SITES = GeneSites(np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, object))


def gene_inputs(genome: Genome, store, genes: pl.DataFrame, ann: Annotation, config: BuildConfig):
    """Yield :class:`GeneInput` for each of ``genes`` (one batch), sequence decoded once."""
    sites = _sites_by_gene(ann.splice_sites, genes["gene_id"])
    txs = {}
    if config.transcript_mode:
        t = ann.transcripts.filter(pl.col("gene_id").is_in(genes["gene_id"].implode()))
        txs = {g: df for (g,), df in t.group_by(["gene_id"])}
    for info, donor, acceptor, neither in iter_gene_scores(store, genes):
        start, end, strand = info["start"], info["end"], info["strand"]
        codes = genome.fetch(info["chrom"], start, end, strand)
        s = sites.get(info["gene_id"], _NO_SITES)
        donors, acceptors = s.offsets(info)
        transcripts = []
        if config.transcript_mode and info["gene_id"] in txs:
            for tid, ts, te in txs[info["gene_id"]].sort("transcript_id").select("transcript_id", "start", "end").iter_rows():
                a, b = sorted(to_offset(np.array([ts, te]), start, end, strand).tolist())
                transcripts.append(TranscriptSites(tid, a, b, *s.offsets(info, tid)))
        yield GeneInput(info, codes, donor, acceptor, neither, donors, acceptors, transcripts)


# ---------------------------------------------------------------------------- batches
@dataclass
class BatchTask:
    """Everything a (possibly separate) worker process needs to build one batch."""

    index: int
    config: BuildConfig
    config_hash: str
    fasta: str
    cache_dir: str | None
    scores: str
    genes: pl.DataFrame
    ann: Annotation
    out_dir: str | None
    progress: bool = False


def run_batch(task: BatchTask, on_gene=None, sink=None) -> dict:
    """Build one batch; returns its statistics (also stored in the batch file's metadata).

    With ``task.out_dir`` None, record batches go to ``sink`` instead of a file.
    """
    t0 = time.perf_counter()
    config = task.config
    schema = make_schema(config)
    writer = None
    if task.out_dir is not None:
        writer = BatchFileWriter(Path(task.out_dir), task.index, schema, config.batch_rows)
        add = writer.add
    else:
        buffer = ColumnBuffer(schema, config.batch_rows, sink)
        add = buffer.add
    genes_out, counts, rows, positions = [], np.zeros((4, 3), np.int64), 0, 0
    try:
        with Genome(task.fasta, cache_dir=task.cache_dir) as genome:
            store = _score_store(task.scores)
            for g in gene_inputs(genome, store, task.genes, task.ann, config):
                tally = GeneTally()
                for chunk in gene_chunks(g, config, tally):
                    add(chunk)
                genes_out.append([g.info["gene_id"], tally.rows, tally.positions])
                counts += tally.counts
                rows += tally.rows
                positions += tally.positions
                if on_gene is not None:
                    on_gene(tally.rows)
        stats = {"index": task.index, "config_hash": task.config_hash, "rows": rows,
                 "positions": positions, "counts": counts.tolist(), "genes": genes_out,
                 "seconds": round(time.perf_counter() - t0, 3)}
        if writer is not None:
            writer.finish(stats)
        else:
            buffer.flush()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return stats


def _run_batch_in_worker(task: BatchTask) -> dict:
    return run_batch(task)


def error_counts(store, genes: pl.DataFrame, ann: Annotation, config: BuildConfig,
                 progress: bool) -> pl.DataFrame:
    """FP and FN counts of the base model per gene (for the error_* selection policies)."""
    sites = _sites_by_gene(ann.splice_sites, genes["gene_id"])
    out = []
    bar = Progress(genes.height, "ranking genes by base-model errors", enabled=progress)
    for lo in range(0, genes.height, config.batch_size):
        part = genes.slice(lo, config.batch_size)
        for info, donor, acceptor, _ in iter_gene_scores(store, part):
            d, a = sites.get(info["gene_id"], _NO_SITES).offsets(info)
            pred, _ = kernels.label_positions(donor, acceptor, d, a, config.threshold, config.consensus_window)
            counts = np.bincount(pred, minlength=4)
            out.append((info["gene_id"], int(counts[2]), int(counts[3])))
            bar.update()
    return pl.DataFrame(out, schema={"gene_id": pl.Utf8, "fp": pl.Int64, "fn": pl.Int64}, orient="row")


# ---------------------------------------------------------------------------- the build
@dataclass
class BuildResult:
    """What :func:`build_dataset` did (``table`` is set for in-memory builds)."""

    info: dict
    output_dir: Path | None = None
    table: pa.Table | None = None
    manifest: pl.DataFrame | None = None

    def to_polars(self) -> pl.DataFrame:
        if self.table is None:
            return pl.scan_parquet(str(self.output_dir / "master" / "*.parquet")).collect()
        return pl.from_arrow(self.table)


def _select(config, ann, store, progress) -> tuple[Selection, pl.DataFrame]:
    genes = ann.genes
    with_scores = set(store.genes()) if store is not None else set()
    candidates = genes["gene_id"].to_list() if config.model else [g for g in genes["gene_id"].to_list() if g in with_scores]
    extras = read_gene_ids(config.gene_ids_file, config.gene_col) if config.gene_ids_file else []
    errors = None
    if config.subset_policy.startswith("error_") and candidates:
        scored = genes.filter(pl.col("gene_id").is_in([g for g in candidates if g in with_scores]))
        if scored.height == 0:
            raise FastbuildError(
                f"policy {config.subset_policy} ranks genes by base-model errors, but no candidate gene has scores yet; "
                "score them first (fastbuild predict) or use --subset-policy random/all/custom"
            )
        errors = error_counts(store, scored, ann, config, progress)
    sel = select_genes(genes, candidates, config.subset_policy, config.n_genes, config.seed,
                       config.gene_types, extras, errors)
    for note in sel.notes:
        log.info(note)
    if not sel.gene_ids:
        why = "no gene has scores" if not candidates else "nothing matched the selection flags"
        raise FastbuildError(f"no genes selected ({why}); check --scores, --gene-types and --gene-ids-file")
    return sel, genes.filter(pl.col("gene_id").is_in(sel.gene_ids))


def _ensure_scores(config, inputs, genome, genes_sel, store, out_dir):
    """Score selected genes the store lacks (with a model), or stop with a clear error."""
    have = set(store.genes()) if store is not None else set()
    missing = [g for g in genes_sel["gene_id"].to_list() if g not in have]
    if not missing:
        return inputs
    if not config.model:
        raise FastbuildError(
            f"{len(missing)} selected genes have no base-model scores (e.g. {', '.join(missing[:5])}); "
            "score them with fastbuild predict, or pass --model so that build scores them"
        )
    from fastbuild.basemodel.scoring import score_genes

    target = inputs.scores or str(Path(out_dir or ".") / "scores")
    log.warning("%d selected genes lack scores: running the base model (--run-workflow implied) into %s",
                len(missing), target)
    score_genes(genome, genes_sel.filter(pl.col("gene_id").is_in(missing)), config.model, target,
                progress=config.progress)
    return replace(inputs, scores=target)


def _check_previous(out: Path, record: dict, overwrite: bool) -> bool:
    """Compare with a previous build in ``out``; returns True when it may be resumed."""
    path = out / "build_config.json"
    if not path.is_file():
        leftovers = list(out.glob("batch_*_trim.parquet"))
        if leftovers and not overwrite:
            raise FastbuildError(f"{out} holds batch files but no build_config.json; use --overwrite or another --output-dir")
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


def _clear(out: Path) -> None:
    for p in list(out.glob("batch_*_trim.parquet*")) + [out / "gene_manifest.csv", out / "build_info.json", out / "BUILD_INFO.md"]:
        if p.exists():
            p.unlink()
    if (out / "master").is_dir():
        shutil.rmtree(out / "master")


def build_dataset(config: BuildConfig | None = None, **options) -> BuildResult:
    """Build a position-centric splice-site dataset (the engine behind ``fastbuild build``).

    Parameters
    ----------
    config : BuildConfig, optional
        All options; keyword ``options`` override its fields (or build one from scratch),
        e.g. ``build_dataset(n_genes=10, kmer_sizes=(3,), output_dir=None)``.

    Returns
    -------
    BuildResult
        With ``output_dir=None`` nothing touches disk and ``result.table`` holds the rows
        (``result.to_polars()`` for a DataFrame); otherwise the dataset is in
        ``output_dir/master/*.parquet`` with its manifest and build_info.json.
    """
    config = replace(config, **options) if config is not None else BuildConfig(**options)
    t0 = time.perf_counter()
    timings = {}
    inputs = resolve_inputs(config)
    out = Path(config.output_dir) if config.output_dir else None
    lock = None
    if out is not None:
        atomic.ensure_dir(out)
        lock = OutputLock(out).acquire()
    try:
        cache_dir = str(out / "cache") if out is not None else None
        with Genome(inputs.fasta, cache_dir=cache_dir) as genome:
            ann = load_reference(inputs, config, genome)
            timings["reference"] = time.perf_counter() - t0
            store = _score_store(inputs.scores) if inputs.scores and Path(inputs.scores).exists() else None
            if inputs.scores and store is None and not config.model:
                raise FastbuildError(f"score store not found: {inputs.scores}")
            t1 = time.perf_counter()
            selection, genes_sel = _select(config, ann, store, config.progress)
            timings["selection"] = time.perf_counter() - t1
            inputs = _ensure_scores(config, inputs, genome, genes_sel, store, out)
            fasta_used = str(genome.path)
        ann_sel = ann.filter_genes(genes_sel)
        fp = fingerprints(inputs)
        record = {"config": config.rows_relevant(), "inputs": fp}
        record["hash"] = config_hash(record)
        tasks = [
            BatchTask(i + 1, config, record["hash"], fasta_used, cache_dir, inputs.scores,
                      genes_sel.slice(lo, config.batch_size), None, str(out) if out else None)
            for i, lo in enumerate(range(0, genes_sel.height, config.batch_size))
        ]
        t2 = time.perf_counter()
        if out is None:
            batches: list[pa.RecordBatch] = []
            stats = [run_batch(_with_ann(t, ann_sel), sink=batches.append) for t in tasks]
            table = pa.Table.from_batches(batches, schema=make_schema(config))
            timings["batches"] = time.perf_counter() - t2
            timings["total"] = time.perf_counter() - t0
            info = report.build_info(config, record["hash"], inputs.__dict__, fp, selection, genes_sel,
                                     stats, timings, 0)
            return BuildResult(info, None, table, report.manifest(ann_sel.genes, stats))
        resumable = _check_previous(out, record, config.overwrite)
        if not resumable:
            _clear(out)
        atomic.write_text(out / "build_config.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
        stats, resumed = _run_batches(tasks, ann_sel, out, config, record["hash"], genes_sel.height)
        timings["batches"] = time.perf_counter() - t2
        stats.sort(key=lambda s: s["index"])
        man = report.manifest(ann_sel.genes, stats)
        if not config.no_manifest:
            with atomic.atomic_path(out / "gene_manifest.csv") as tmp:
                man.write_csv(tmp)
        timings["total"] = time.perf_counter() - t0
        info = report.build_info(config, record["hash"], inputs.__dict__, fp, selection, genes_sel,
                                 stats, timings, resumed)
        atomic.write_text(out / "build_info.json", json.dumps(info, indent=1) + "\n")
        atomic.write_text(out / "BUILD_INFO.md", report.build_info_markdown(info))
        return BuildResult(info, out, None, man)
    finally:
        if lock is not None:
            lock.release()


def _with_ann(task: BatchTask, ann: Annotation) -> BatchTask:
    return replace(task, ann=ann.filter_genes(task.genes))


def _run_batches(tasks, ann, out: Path, config: BuildConfig, chash: str, n_genes: int):
    """Run the unfinished batches, skipping finished ones.

    With ``--jobs N`` the main process and N - 1 worker processes (spawned) each take the next
    pending batch until none is left; a batch is always built whole by one process.
    """
    stats, pending, resumed = [], [], 0
    for t in tasks:
        path = out / batch_name(t.index)
        st = read_stats(path) if path.exists() else None
        if st is not None and st.get("config_hash") == chash:
            link_master(path, out / "master" / master_name(t.index))
            stats.append(st)
            resumed += 1
        else:
            pending.append(t)
    if resumed:
        log.warning("resuming: %d of %d batches already finished", resumed, len(tasks))
    done_genes = sum(len(s["genes"]) for s in stats)
    bar = Progress(n_genes, "genes", enabled=config.progress)
    bar.done = done_genes
    rows = [sum(s["rows"] for s in stats)]

    def on_gene(n_rows):
        rows[0] += n_rows
        bar.update(1, f"{rows[0]:,} rows")

    queue = list(reversed(pending))
    take_lock = threading.Lock()

    def take():
        with take_lock:
            return queue.pop() if queue else None

    def feed_workers(pool, errors):
        """Keep each worker process busy with the next pending batch until none is left."""
        try:
            inflight = set()
            while True:
                while len(inflight) < config.jobs - 1 and (t := take()) is not None:
                    inflight.add(pool.submit(_run_batch_in_worker, _with_ann(t, ann)))
                if not inflight:
                    return
                done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in done:
                    st = fut.result()
                    with take_lock:
                        stats.append(st)
                        rows[0] += st["rows"]
                        bar.update(len(st["genes"]), f"{rows[0]:,} rows (batch {st['index']} done)")
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)
            queue.clear()

    # the main process works too: --jobs N means N processes building batches
    pool = feeder = None
    errors: list = []
    if config.jobs > 1 and len(pending) > 1:
        pool = ProcessPoolExecutor(max_workers=min(config.jobs - 1, len(pending) - 1), mp_context=get_context("spawn"))
        feeder = threading.Thread(target=feed_workers, args=(pool, errors), daemon=True)
        feeder.start()
    try:
        while (t := take()) is not None:
            st = run_batch(_with_ann(t, ann), on_gene=None if pool else on_gene)
            with take_lock:
                stats.append(st)
                if pool:
                    rows[0] += st["rows"]
                    bar.update(len(st["genes"]), f"{rows[0]:,} rows (batch {st['index']} done)")
    except BaseException:
        queue.clear()
        raise
    finally:
        if feeder is not None:
            feeder.join()
            pool.shutdown(cancel_futures=True)
    if errors:
        raise errors[0]
    return stats, resumed
