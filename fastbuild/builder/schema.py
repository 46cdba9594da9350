"""The one declared output schema, built up front from the configuration.

Every batch file, even one with no rows, is written with exactly this schema. Each field
carries its role in its own metadata (``fastbuild.role``) and the schema metadata holds the
whole role map as JSON (``fastbuild.roles``), so training code knows what to drop:

* ``id``      — identifies a row: gene_id, transcript_id, chrom, strand, position,
  rel_position. Not features.
* ``label``   — targets: splice_type, pred_type, y.
* ``leaky``   — derived from the annotation or the labels (distances to annotated sites,
  true_position, predicted_position). Never train on them.
* ``feature`` — everything else.
"""

from __future__ import annotations

import itertools
import json

import pyarrow as pa

import fastbuild_kernels as kernels
from fastbuild.builder.config import BuildConfig

FORMAT_VERSION = 1
ROLES = ("id", "label", "leaky", "feature")
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
    ("distance_to_donor", pa.int64(), "distance to the nearest annotated donor (-1: none)"),
    ("distance_to_acceptor", pa.int64(), "distance to the nearest annotated acceptor (-1: none)"),
]
_SCORES = [
    ("donor_score", pa.float32(), "base model donor probability"),
    ("acceptor_score", pa.float32(), "base model acceptor probability"),
    ("neither_score", pa.float32(), "base model neither probability"),
]
_SEQUENCE = [
    ("gc_content", pa.float32(), "(G+C)/(A+C+G+T) in the k-mer window, N excluded"),
    ("sequence_complexity", pa.float32(), "Shannon entropy (bits) of base frequencies in the window"),
    ("sequence_length", pa.int32(), "window length after clipping at the gene ends"),
]
_GENE = [
    ("gene_type", pa.string(), "gene biotype"),
    ("gene_length", pa.int64(), "gene length (bp)"),
    ("n_transcripts", pa.int32(), "transcripts of the gene"),
    ("n_splice_sites", pa.int32(), "unique annotated splice-site positions of the gene"),
    ("splice_density_per_kb", pa.float32(), "n_splice_sites per kb of gene"),
    ("num_overlaps", pa.int32(), "other genes overlapping this one (either strand)"),
    ("relative_position", pa.float32(), "rel_position / (length - 1): 0 at the 5' end, 1 at the 3' end"),
    ("distance_to_predicted_donor", pa.int64(),
     "distance to the nearest position with donor prob >= threshold (-1: none)"),
    ("distance_to_predicted_acceptor", pa.int64(),
     "distance to the nearest position with acceptor prob >= threshold (-1: none)"),
]


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


def make_schema(config: BuildConfig) -> pa.Schema:
    """The Arrow schema of every batch file of a build with ``config``."""
    context = [(name, pa.float32(), "base model score context (kernels.context_features)")
               for name in kernels.CONTEXT_FEATURES]
    groups = [
        ("id", _ID), ("label", _LABEL), ("leaky", _LEAKY),
        ("feature", _SCORES + context + _SEQUENCE + _GENE + kmer_columns(config)),
    ]
    fields, roles = [], {}
    for role, cols in groups:
        for name, dtype, doc in cols:
            nullable = name in ("transcript_id", "true_position", "predicted_position")
            fields.append(pa.field(name, dtype, nullable=nullable,
                                   metadata={"fastbuild.role": role, "fastbuild.doc": doc}))
            roles[name] = role
    metadata = {
        "fastbuild.format_version": str(FORMAT_VERSION),
        "fastbuild.roles": json.dumps(roles),
        "fastbuild.drop_for_training": json.dumps([n for n, r in roles.items() if r in ("id", "label", "leaky")]),
        "fastbuild.target": "y",
        "fastbuild.kmer_sizes": json.dumps(list(config.kmer_sizes)),
    }
    return pa.schema(fields, metadata=metadata)


def roles_of(schema: pa.Schema) -> dict[str, str]:
    """Column -> role map stored in a fastbuild schema."""
    return json.loads(schema.metadata[b"fastbuild.roles"])
