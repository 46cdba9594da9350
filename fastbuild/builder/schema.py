"""The one declared output schema, built up front from the configuration.

Every batch file, even one with no rows, is written with exactly this schema. Each field
carries its role in its own metadata (``fastbuild.role``), where its value comes from
(``fastbuild.source``: annotation / base_model / sequence / sampling / track) and a description
(``fastbuild.doc``); the schema metadata holds the whole role map as JSON (``fastbuild.roles``)
and the drop lists for the two ways of training, so training code knows what to drop:

* ``id``         — identifies a row: gene_id, transcript_id, chrom, strand, position, rel_position.
* ``group``      — for splitting, never features: split, gene_cluster, base_model_training_chrom.
* ``label``      — targets: splice_type, pred_type, y.
* ``leaky``      — derived from the annotated sites or the labels (distances to annotated sites,
  true_position, predicted_position). Never train on them.
* ``weight``     — sample_weight: the inverse of the probability that the row was kept.
* ``annotation`` — features derived from the gene annotation (gene length, type and bounds,
  transcript and site counts, site density, overlaps, relative position, window length
  clipped at the gene ends). Known for annotated genes only, and partly derived from the
  very sites the labels come from: train on them only for a model that will always see
  annotated genes.
* ``feature``    — available for any sequence: base-model scores and their context, sequence
  composition, k-mers and local sequence codes; external tracks (``--track``, source ``track``:
  their value and windowed means, null where the track has no data).

``fastbuild.drop_for_training`` drops everything but ``feature`` (a meta-model usable on any
sequence); ``fastbuild.drop_for_annotated_training`` keeps ``annotation`` as well.
"""

from __future__ import annotations

import itertools
import json

import pyarrow as pa

import fastbuild_kernels as kernels
from fastbuild.builder.config import BuildConfig
from fastbuild.errors import FastbuildError

FORMAT_VERSION = 2
ROLES = ("id", "group", "label", "leaky", "weight", "annotation", "feature")
#: Roles dropped to train a meta-model usable on any sequence / on annotated genes only.
DROP_FOR_TRAINING = ("id", "group", "label", "leaky", "weight", "annotation")
DROP_FOR_ANNOTATED_TRAINING = ("id", "group", "label", "leaky", "weight")
WEIGHT_COLUMN = "sample_weight"
SPLICE_TYPES = ("neither", "donor", "acceptor")  # index = y = kernels' splice_type code
PRED_TYPES = ("TN", "TP", "FP", "FN")  # index = kernels' pred_type code

_ID = [
    ("gene_id", pa.string(), "annotation gene id"),
    ("transcript_id", pa.string(), "transcript of the row (transcript mode; null in genomic mode)"),
    ("chrom", pa.string(), "contig, as named in the FASTA"),
    ("strand", pa.string(), "'+' or '-'"),
    ("position", pa.int64(), "1-based genomic position"),
    ("rel_position", pa.int64(), "0-based offset in transcript orientation from the gene (or transcript) 5' end"),
]
_LABEL = [
    ("splice_type", pa.string(), "annotated site type: donor / acceptor / neither"),
    ("pred_type", pa.string(), "base model verdict against the annotation: TP / FP / FN / TN"),
    ("y", pa.int8(), "training target: 0 neither, 1 donor, 2 acceptor"),
]
_LEAKY = [
    ("true_position", pa.int64(), "position when it is an annotated site, else null"),
    ("predicted_position", pa.int64(), "position when donor or acceptor prob >= threshold, else null"),
    ("distance_to_donor", pa.int64(), "distance to the nearest annotated donor (null: the gene has none)"),
    ("distance_to_acceptor", pa.int64(), "distance to the nearest annotated acceptor (null: the gene has none)"),
]
_SCORES = [
    ("donor_score", pa.float32(), "base model donor probability"),
    ("acceptor_score", pa.float32(), "base model acceptor probability"),
    ("neither_score", pa.float32(), "base model neither probability"),
]
_GROUP = [
    ("split", pa.dictionary(pa.int32(), pa.string()), "split of the gene under --split (null: no split)"),
    ("gene_cluster", pa.string(), "cluster of genes whose spans overlap, on either strand (keep together in CV)"),
    ("base_model_training_chrom", pa.bool_(),
     "gene lies on a chromosome the base model was trained on, by its documentation (null: unknown)"),
]
_WEIGHT = [
    (WEIGHT_COLUMN, pa.float32(),
     "1 / probability that the row was kept by downsampling (per gene and stratum; 1 in --eval-mode)"),
]
#: Widths W of the long-range score sums (offsets 3..W up- and downstream) and of the maxima.
LONG_CONTEXT_WIDTHS = (30, 100, 300, 1000, 3000)
LONG_CONTEXT_MAX = 50


def long_context_names() -> list[str]:
    """Columns of the long-range score context, per score type (donor, acceptor)."""
    names = []
    for t in ("donor", "acceptor"):
        for w in LONG_CONTEXT_WIDTHS:
            names += [f"{t}_sum_up{w}", f"{t}_sum_down{w}"]
        names += [f"{t}_max_up{LONG_CONTEXT_MAX}", f"{t}_max_down{LONG_CONTEXT_MAX}"]
    return names


_LONG_CONTEXT = [(name, pa.float32(), "base model probability summed (sum) or maximal (max) over offsets 3..W "
                                      "upstream (up) or downstream (down) of the position, within the gene")
                 for name in long_context_names()]
_SEQUENCE = [
    ("gc_content", pa.float32(), "(G+C)/(A+C+G+T) in the k-mer window, N excluded"),
    ("sequence_complexity", pa.float32(), "Shannon entropy (bits) of base frequencies in the window"),
]
_PREDICTED = [
    ("distance_to_predicted_donor", pa.int64(),
     "distance to the nearest position of the gene with donor prob >= threshold (null: none)"),
    ("distance_to_predicted_acceptor", pa.int64(),
     "distance to the nearest position of the gene with acceptor prob >= threshold (null: none)"),
]
_ANNOTATION = [
    ("gene_type", pa.dictionary(pa.int32(), pa.string()), "gene biotype"),
    ("gene_length", pa.int64(), "gene length (bp)"),
    ("n_transcripts", pa.int32(), "transcripts of the gene"),
    ("n_splice_sites", pa.int32(), "unique annotated splice-site positions of the gene"),
    ("splice_density_per_kb", pa.float32(), "n_splice_sites per kb of gene"),
    ("num_overlaps", pa.int32(), "other genes overlapping this one (either strand)"),
    ("relative_position", pa.float32(), "rel_position / (length - 1): 0 at the 5' end, 1 at the 3' end"),
    ("sequence_length", pa.int32(), "k-mer window length after clipping at the gene ends"),
]
NULLABLE = frozenset({"transcript_id", "true_position", "predicted_position", "distance_to_donor",
                      "distance_to_acceptor", "distance_to_predicted_donor", "distance_to_predicted_acceptor",
                      "split", "base_model_training_chrom"})


def sequence_code_names(flank: int) -> list[str]:
    """Columns of the local sequence codes for ``--sequence-flank flank``: nt_u{flank}..nt_u1, nt_0,
    nt_d1..nt_d{flank} (upstream / downstream in transcript orientation)."""
    if flank <= 0:
        return []
    return [f"nt_u{d}" for d in range(flank, 0, -1)] + ["nt_0"] + [f"nt_d{d}" for d in range(1, flank + 1)]


def _sequence_codes(config: BuildConfig) -> list[tuple[str, pa.DataType, str]]:
    doc = "base at this offset from the position (A=0 C=1 G=2 T=3 N=4, transcript orientation; N past the contig ends)"
    return [(name, pa.uint8(), doc) for name in sequence_code_names(config.sequence_flank)]


def kmer_names(k: int) -> list[str]:
    """The 4**k k-mers in ACGT lexicographic order (the kernels' k-mer ids)."""
    return ["".join(p) for p in itertools.product("ACGT", repeat=k)]


def kmer_columns(config: BuildConfig) -> list[tuple[str, pa.DataType, str]]:
    cols = []
    for k in config.kmer_sizes:
        if config.layout_of(k) == "wide":
            cols += [(f"{k}mer_{km}", pa.uint16(), f"count of {km} in the window") for km in kmer_names(k)]
        else:
            cols += [
                (f"{k}mer_ids", pa.list_(pa.int32()), f"ids (ACGT rank) of the {k}-mers present in the window"),
                (f"{k}mer_counts", pa.list_(pa.uint16()), f"counts of the {k}-mers in {k}mer_ids"),
            ]
    return cols


def track_columns(name: str) -> list[tuple[str, pa.DataType, str]]:
    """Columns of external track ``name`` (``--track NAME=PATH``): its value and windowed means."""
    from fastbuild.tracks.features import TRACK_WINDOWS, track_column_names

    docs = [f"value of track {name} at the position (null: no data there)"]
    for w in TRACK_WINDOWS:
        docs += [f"mean of track {name} over the {w} bases upstream (5', transcript orientation) of the position, "
                 "over bases with data (null: none)",
                 f"mean of track {name} over the {w} bases downstream (3') of the position, over bases with data "
                 "(null: none)"]
    return [(col, pa.float32(), doc) for col, doc in zip(track_column_names(name), docs, strict=True)]


def _track_columns(config: BuildConfig) -> list[tuple[str, pa.DataType, str]]:
    return [col for name, _ in config.track_specs for col in track_columns(name)]


def _column_groups(config: BuildConfig) -> list[tuple[str, str, list]]:
    """(role, source, columns) in schema order."""
    context = [(name, pa.float32(), "base model score context (kernels.context_features)")
               for name in kernels.CONTEXT_FEATURES]
    return [
        ("id", "annotation", _ID), ("group", "annotation", _GROUP), ("label", "annotation", _LABEL),
        ("leaky", "annotation", _LEAKY), ("weight", "sampling", _WEIGHT),
        ("feature", "base_model", _SCORES + context + _PREDICTED + _LONG_CONTEXT),
        ("feature", "sequence", _SEQUENCE + kmer_columns(config) + _sequence_codes(config)),
        ("feature", "track", _track_columns(config)),
        ("annotation", "annotation", _ANNOTATION),
    ]


def make_schema(config: BuildConfig) -> pa.Schema:
    """The Arrow schema of every batch file of a build with ``config``."""
    fields, roles = [], {}
    for role, source, cols in _column_groups(config):
        for name, dtype, doc in cols:
            meta = {"fastbuild.role": role, "fastbuild.source": source, "fastbuild.doc": doc}
            if name in roles:  # only a --track NAME can repeat a column
                raise FastbuildError(f"--track: column {name} is already a column of the dataset; choose another "
                                     "NAME for that track")
            fields.append(pa.field(name, dtype, nullable=name in NULLABLE or source == "track", metadata=meta))
            roles[name] = role
    metadata = {
        "fastbuild.format_version": str(FORMAT_VERSION),
        "fastbuild.roles": json.dumps(roles),
        "fastbuild.drop_for_training": json.dumps([n for n, r in roles.items() if r in DROP_FOR_TRAINING]),
        "fastbuild.drop_for_annotated_training": json.dumps(
            [n for n, r in roles.items() if r in DROP_FOR_ANNOTATED_TRAINING]),
        "fastbuild.target": "y",
        "fastbuild.weight": WEIGHT_COLUMN,
        "fastbuild.kmer_sizes": json.dumps(list(config.kmer_sizes)),
        "fastbuild.mode": "evaluation" if config.eval_mode else "training",
    }
    return pa.schema(fields, metadata=metadata)


def sources_of(schema: pa.Schema) -> dict[str, str]:
    """Column -> source (annotation / base_model / sequence / sampling / track) of a fastbuild schema."""
    return {f.name: f.metadata[b"fastbuild.source"].decode() for f in schema}


def roles_of(schema: pa.Schema) -> dict[str, str]:
    """Column -> role map stored in a fastbuild schema."""
    return json.loads(schema.metadata[b"fastbuild.roles"])
