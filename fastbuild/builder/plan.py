"""A build's plan: resolved inputs, the genes chosen, their batches and the configuration hash.

Everything here is decided before any row is made; the batches it lists are fixed by the
configuration (``--batch-size``), never by how many processes run them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fastbuild.annotation import Annotation
from fastbuild.builder.batch import BatchTask
from fastbuild.builder.config import BuildConfig, config_hash
from fastbuild.builder.groups import add_group_columns
from fastbuild.builder.inputs import ensure_scores, open_store, select_build_genes
from fastbuild.builder.schema import make_schema
from fastbuild.builder.splits import parse_split
from fastbuild.builder.writer import batch_name
from fastbuild.files import sha256_file
from fastbuild.genome import Genome
from fastbuild.reference import Inputs, fingerprints, load_reference, resolve_inputs
from fastbuild.selection import Selection, unspliced_warning
from fastbuild.tracks.features import check_tracks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildPlan:
    """What a build will do (see :func:`make_plan`)."""

    config: BuildConfig
    inputs: Inputs
    fasta: str  # the FASTA actually read (a decompressed cache copy for plain gzip)
    ann: Annotation  # restricted to the selected genes
    selection: Selection
    genes: pl.DataFrame  # the selected genes, in build order
    fingerprints: dict
    config_hash: str
    output_dir: Path | None  # absolute; None for a build in memory
    timings: dict = field(default_factory=dict)  # seconds per stage (reference, selection, batches, total)
    started: float = field(default_factory=time.perf_counter)

    @property
    def record(self) -> dict:
        """The content of plan.json: what a resumed build, a unit or finalise must match."""
        return {"format": "fastbuild-build-plan/1", "config": self.config.rows_relevant(),
                "inputs": self.fingerprints, "hash": self.config_hash, "units": self.units()}

    def units(self) -> list[dict]:
        """The ordered work units: batch index, file name and gene ids of each."""
        ids = self.genes["gene_id"].to_list()
        size = self.config.batch_size
        return [{"index": i + 1, "file": batch_name(i + 1), "genes": ids[lo:lo + size]}
                for i, lo in enumerate(range(0, len(ids), size))]

    def tasks(self, out_dir: Path | None) -> list[BatchTask]:
        """The batches, in order, each with its genes' annotation."""
        out = str(out_dir) if out_dir is not None else None
        size = self.config.batch_size
        tasks = []
        for i, lo in enumerate(range(0, self.genes.height, size)):
            genes = self.genes.slice(lo, size)
            tasks.append(BatchTask(i + 1, self.config, self.config_hash, self.fasta, self.inputs.scores, genes,
                                   self.ann.filter_genes(genes), out))
        return tasks


def _model_name(inputs: Inputs) -> str | None:
    """Name of the model whose scores the build reads (from its store), None without a store."""
    if not inputs.scores or not Path(inputs.scores).exists():
        return None
    from fastbuild.basemodel.store import ScoreStore

    return ScoreStore(inputs.scores).model_identity.get("name")


def make_plan(config: BuildConfig, output_dir: Path | None) -> BuildPlan:
    """Resolve inputs, load the reference, choose genes and make sure they have scores.

    The plan's ``timings`` hold the seconds spent loading the reference and selecting genes.
    """
    t0 = time.perf_counter()
    timings: dict = {}
    make_schema(config)  # a --track NAME that repeats a column stops here, before any input is read
    inputs = resolve_inputs(config.inputs, config.scores, config.model)
    with Genome(inputs.fasta) as genome:
        ann = load_reference(inputs, config.inputs, genome)
        t1 = time.perf_counter()
        store = open_store(inputs, config)
        selection, genes = select_build_genes(config, ann, store)
        warning = None if config.eval_mode else unspliced_warning(genes)
        if warning:
            log.warning(warning)
        timings.update(reference=t1 - t0, selection=time.perf_counter() - t1)
        inputs = ensure_scores(config, inputs, genome, genes, store)
        genes = add_group_columns(genes, ann.genes, config.split, _model_name(inputs))
        fasta = str(genome.path)
        tracks = check_tracks(config, genome.contigs, genes["chrom"].to_list())
    fp = fingerprints(inputs)
    split = parse_split(config.split)
    if split.kind == "file":  # an edited split file changes the rows: it is an input like the others
        fp["split_file"] = sha256_file(split.path)
    if tracks:  # each --track file is an input like the others (only then: builds without keep their hash)
        fp["tracks"] = tracks
    chash = config_hash({"config": config.rows_relevant(), "inputs": fp})
    return BuildPlan(config, inputs, fasta, ann.filter_genes(genes), selection, genes, fp, chash, output_dir,
                     timings, t0)
