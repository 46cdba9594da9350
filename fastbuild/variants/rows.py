"""Meta-model rows of ``fastbuild variants --rows DIR``: one row per variant x gene x allele x position within D.

Each scored (record, alternative allele, gene) gives ``2D + 1`` rows, the positions ``pos - D ..
pos + D``: reference and (aligned, SpliceAI's way) alternative scores of the three channels, their
deltas, the variant's four delta scores, the offset to the variant and the allele's length
change; the build's score-context features of the reference and of the aligned alternative
scores, and its k-mer and composition features of the reference and of the alternative sequence,
in the gene's transcript orientation (:mod:`fastbuild.variants.row_features`: which window each
sees, how a row maps onto the alternative sequence of an indel); identifiers of the variant;
whether the position is an annotated site; and, with ``--label-field KEY --label-map VALUE=N
...``, the label ``y`` of the record's INFO value.

The folder is laid out like a build (``master/part-NNNNN.parquet``, ``_SUCCESS`` written last),
every file with one declared schema whose fields carry their role (``fastbuild.role``: id,
label, annotation, feature) and the schema metadata the role map (``fastbuild.roles``), so
:mod:`fastbuild.loaders` reads it: ``BuildReader(DIR, roles=("feature",), target="y")``.
A unit's file is written one row group per :data:`GROUP_ROWS` rows or so (the features of one
group in memory at a time), under a temporary name then renamed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fastbuild.atomic import atomic_path, ensure_dir, write_text
from fastbuild.variants.row_features import RowFeatures
from fastbuild.variants.semantics import delta_scores, mask_arrays

__all__ = ["GROUP_ROWS", "finalise_rows", "row_schema", "write_rows"]

#: Rows per Parquet row group of a unit's rows file (about 1 KB of features a row at the defaults).
GROUP_ROWS = 50_000

FORMAT = "fastbuild-variant-rows/1"
_COLUMNS = [
    ("variant_id", pa.string(), "id", "CHROM:POS:REF:ALT as written in the VCF"),
    ("vcf_line", pa.int64(), "id", "line of the record in the input VCF"),
    ("chrom", pa.string(), "id", "contig, as written in the VCF"),
    ("pos", pa.int64(), "id", "1-based position of the variant"),
    ("ref", pa.string(), "id", "REF allele"),
    ("alt", pa.string(), "id", "ALT allele"),
    ("gene", pa.string(), "id", "SYMBOL of the gene the variant was scored against"),
    ("strand", pa.string(), "id", "the gene's strand"),
    ("position", pa.int64(), "id", "1-based genomic position of the row (pos - D .. pos + D)"),
    ("offset", pa.int32(), "feature", "position - pos (genomic orientation)"),
    ("length_change", pa.int32(), "feature", "len(ALT) - len(REF)"),
    *[(f"{a}_{c}", pa.float32(), "feature", f"{a} allele {c} probability at the position (alt aligned as SpliceAI)")
      for a in ("ref", "alt") for c in ("neither", "acceptor", "donor")],
    ("delta_acceptor", pa.float32(), "feature", "alt_acceptor - ref_acceptor"),
    ("delta_donor", pa.float32(), "feature", "alt_donor - ref_donor"),
    *[(f"ds_{k}", pa.float32(), "feature", f"the variant's delta score DS_{k.upper()} for this gene (with -M)")
      for k in ("ag", "al", "dg", "dl")],
    ("annotated_acceptor", pa.bool_(), "annotation", "the position is an annotated acceptor of the gene"),
    ("annotated_donor", pa.bool_(), "annotation", "the position is an annotated donor of the gene"),
]
_LABEL = [("y", pa.int8(), "label", "label of the record's --label-field value (--label-map; null: unmapped)"),
          ("label_value", pa.string(), "label", "the record's --label-field value as written")]


def row_schema(with_label: bool, features: RowFeatures | None = None) -> pa.Schema:
    """The declared schema of every rows file: the columns above, the features of ``features``
    (default: the build's k-mer size and window) and the label columns with ``--label-field``."""
    fields, roles = [], {}
    declared = _COLUMNS + (features or RowFeatures()).columns() + (_LABEL if with_label else [])
    for name, dtype, role, doc in declared:
        meta = {"fastbuild.role": role, "fastbuild.source": "variants", "fastbuild.doc": doc}
        fields.append(pa.field(name, dtype, nullable=name in ("y", "label_value"), metadata=meta))
        roles[name] = role
    meta = {"fastbuild.format": FORMAT, "fastbuild.roles": json.dumps(roles), "fastbuild.target": "y",
            "fastbuild.drop_for_training": json.dumps([n for n, r in roles.items() if r != "feature"])}
    return pa.schema(fields, metadata=meta)


def _info_value(line: str, key: str) -> str | None:
    for item in line.split("\t")[7].split(";"):
        name, _, value = item.partition("=")
        if name == key:
            return value
    return None


def _block(task, features: RowFeatures, genome, rec, alt, gene, y_ref, y_alt) -> dict:
    """The columns of one (record, allele, gene): 2D + 1 rows."""
    d = task.distance
    n = 2 * d + 1
    positions = np.arange(rec.pos - d, rec.pos + d + 1, dtype=np.int64)
    scores, _ = delta_scores(y_ref, y_alt, d, mask_arrays(gene, rec.pos, d) if task.mask else None)
    acc, don = mask_arrays(gene, rec.pos, d, ends=False)  # the columns: true splice sites only
    cols = {"variant_id": [f"{rec.chrom}:{rec.pos}:{rec.ref}:{alt}"] * n, "vcf_line": np.full(n, rec.lineno),
            "chrom": [rec.chrom] * n, "pos": np.full(n, rec.pos), "ref": [rec.ref] * n, "alt": [alt] * n,
            "gene": [gene.symbol] * n, "strand": [gene.strand] * n, "position": positions,
            "offset": (positions - rec.pos).astype(np.int32),
            "length_change": np.full(n, len(alt) - len(rec.ref), np.int32)}
    for k, c in enumerate(("neither", "acceptor", "donor")):
        cols[f"ref_{c}"], cols[f"alt_{c}"] = y_ref[:, k], y_alt[:, k]
    cols["delta_acceptor"], cols["delta_donor"] = y_alt[:, 1] - y_ref[:, 1], y_alt[:, 2] - y_ref[:, 2]
    for k, s in zip(("ag", "al", "dg", "dl"), scores, strict=True):
        cols[f"ds_{k}"] = np.full(n, s, np.float32)
    cols["annotated_acceptor"], cols["annotated_donor"] = acc, don
    cols.update(features.block(genome, gene, rec.pos, rec.ref, alt, d, y_ref, y_alt))
    if task.label_field:
        value = _info_value(rec.line, task.label_field)
        cols["label_value"] = [value] * n
        cols["y"] = [dict(task.label_map).get(value)] * n
    return cols


def _table(schema: pa.Schema, blocks: list) -> pa.Table:
    columns = {f.name: pa.array([v for b in blocks for v in b[f.name]] if blocks else [], type=f.type)
               if f.type in (pa.string(),) or f.name == "y" else
               pa.array(np.concatenate([np.asarray(b[f.name]) for b in blocks]) if blocks else [], type=f.type)
               for f in schema}
    return pa.table(columns, schema=schema)


def write_rows(task, rows: list, genome) -> Path:
    """Write the rows of one unit (``rows``: (record, RecordResult) pairs) to ``WORK/rows/part-NNNNN.parquet``.

    ``genome`` (:class:`fastbuild.genome.Genome`) gives the sequence features their bases.
    """
    features = RowFeatures(tuple(task.rows_kmer_sizes), tuple(task.rows_context_flank))
    schema = row_schema(task.label_field is not None, features)
    pairs = [(rec, scored) for rec, res in rows for scored in res.scored]
    per_group = max(1, GROUP_ROWS // (2 * task.distance + 1))
    path = ensure_dir(Path(task.work_dir) / "rows") / f"part-{task.index:05d}.parquet"
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd",
                                                    write_page_checksum=True) as writer:
        for g in range(0, max(len(pairs), 1), per_group):
            blocks = [_block(task, features, genome, rec, *scored) for rec, scored in pairs[g : g + per_group]]
            writer.write_table(_table(schema, blocks))
    return path


def finalise_rows(rows_dir: Path, work: Path, plan: dict, results: list) -> None:
    """Publish the units' rows as ``rows_dir/master/`` (renamed whole), then ``_SUCCESS`` (written last)."""
    rows_dir = ensure_dir(rows_dir)
    for stale in ("_SUCCESS", "master.tmp"):
        p = rows_dir / stale
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    tmp = ensure_dir(rows_dir / "master.tmp")
    for unit in plan["units"]:
        name = f"part-{unit['index']:05d}.parquet"
        shutil.copyfile(work / "rows" / name, tmp / name)
    if (rows_dir / "master").exists():
        shutil.rmtree(rows_dir / "master")
    tmp.rename(rows_dir / "master")
    info = {"format": FORMAT, "plan": plan["key"], "files": len(plan["units"]),
            "records": sum(r["records"] for r in results)}
    write_text(rows_dir / "_SUCCESS", json.dumps(info))
