"""A finished dataset -> ``sites.bed`` (its TP/FP/FN sites, BED9 coloured by class) and bigWigs of its columns.

``sites.bed``: one line per site and verdict, ``chrom, start (0-based), end, name, score,
strand, thickStart, thickEnd, itemRgb`` after a ``track`` line with ``itemRgb="On"``. The name
is ``{pred_type}_{type}``: the annotated type for TP and FN, for FP the type the base model
scores higher there; the score is ``1000 x max(donor_score, acceptor_score)``; colours: TP green,
FP red, FN blue. A site of several transcripts (``--position-id-mode transcript``) is one line.

A column's bigWig holds the dataset's rows only (true negatives are downsampled unless the build
ran with ``--eval-mode``): a sparse track of the kept positions.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from fastbuild.atomic import atomic_path
from fastbuild.builder.output import master_files
from fastbuild.errors import FastbuildError
from fastbuild.files import sha256_file
from fastbuild.tracks.contig_sizes import match_contigs
from fastbuild.tracks.frame_tracks import write_frame_tracks

__all__ = ["BED_FILE", "COLOURS", "export_dataset", "read_dataset"]

BED_FILE = "sites.bed"
COLOURS = {"TP": "0,150,0", "FP": "220,0,0", "FN": "0,0,220"}
_KEY = ["chrom", "strand", "position"]


def read_dataset(dataset, columns: list[str], where: pl.Expr | None = None) -> pl.DataFrame:
    """``columns`` of every row of a finished dataset (filtered by ``where``), one file at a time."""
    parts = []
    for f in master_files(dataset):
        names = set(_schema(f).names)
        missing = [c for c in columns if c not in names]
        if missing:
            raise FastbuildError(f"{dataset} is not a fastbuild build dataset: {f.name} has no column "
                                 f"{', '.join(missing)}")
        try:
            df = pl.from_arrow(pq.read_table(f, columns=columns))
        except Exception as exc:  # a damaged file: one line naming it
            raise FastbuildError(f"cannot read {f}: {str(exc).splitlines()[0][:200]}") from None
        parts.append(df.filter(where) if where is not None else df)
    return pl.concat(parts, how="vertical_relaxed")


def check_columns(dataset, names) -> None:
    """FastbuildError unless every name is a numeric column of the dataset."""
    schema = _schema(master_files(dataset)[0])
    numeric = [f.name for f in schema if pa_numeric(f.type)]
    for name in names:
        if name not in numeric:
            what = "not a numeric column" if name in schema.names else "not a column"
            raise FastbuildError(f"--column {name} is {what} of dataset {dataset}; numeric columns are e.g. "
                                 f"{', '.join(numeric[:8])}")


def _schema(path: Path):
    try:
        return pq.read_schema(path)
    except Exception as exc:  # a damaged file: one line naming it
        raise FastbuildError(f"cannot read {path}: {str(exc).splitlines()[0][:200]}") from None


def pa_numeric(dtype) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype)


def _with_contigs(rows: pl.DataFrame, sizes: dict[str, int], dataset) -> pl.DataFrame:
    mapping = match_contigs({c: None for c in rows["chrom"].unique(maintain_order=True).to_list()}, sizes,
                            f"dataset {dataset}")
    return rows.with_columns(contig=pl.col("chrom").cast(pl.Utf8).replace_strict(mapping, return_dtype=pl.Utf8))


def site_lines(rows: pl.DataFrame, sizes: dict[str, int]) -> pl.DataFrame:
    """The BED9 columns of the TP/FP/FN rows (``contig`` set), sorted by FASTA contig order and start."""
    best = pl.max_horizontal("donor_score", "acceptor_score")
    donor_higher = pl.col("donor_score") >= pl.col("acceptor_score")
    called = pl.when(donor_higher).then(pl.lit("donor")).otherwise(pl.lit("acceptor"))
    kind = pl.when(pl.col("pred_type") != "FP").then(pl.col("splice_type")).otherwise(called)
    order = {c: i for i, c in enumerate(sizes)}
    bed = rows.select(
        pl.col("contig").alias("chrom"), (pl.col("position") - 1).alias("start"), pl.col("position").alias("end"),
        pl.concat_str([pl.col("pred_type"), kind], separator="_").alias("name"),
        (best.fill_nan(0).clip(0, 1) * 1000).round().cast(pl.Int64).alias("score"), pl.col("strand"),
        (pl.col("position") - 1).alias("thickStart"), pl.col("position").alias("thickEnd"),
        pl.col("pred_type").replace_strict(COLOURS, return_dtype=pl.Utf8).alias("itemRgb"),
    ).unique(["chrom", "start", "strand", "name"], maintain_order=True)
    rank = pl.col("chrom").replace_strict(order, return_dtype=pl.Int64)
    return bed.sort(rank, "start", "strand", "name")


def write_bed(bed: pl.DataFrame, path: Path, title: str) -> None:
    """``bed`` as a BED9 file with a ``track`` line (colours on), atomically."""
    header = f'track name="{title}" description="fastbuild sites: TP green, FP red, FN blue" itemRgb="On"\n'
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(header)
            bed.write_csv(fh, separator="\t", include_header=False)


def export_dataset(dataset, out: Path, sizes: dict[str, int], mode: str, columns=()) -> dict:
    """Write ``sites.bed`` and a bigWig of each of ``columns`` of a finished dataset into ``out``.

    Returns
    -------
    dict
        ``source``, ``files`` (records of the files written) and ``empty`` (files left out).
    """
    check_columns(dataset, columns)
    sites = read_dataset(dataset, [*_KEY, "pred_type", "splice_type", "donor_score", "acceptor_score"],
                         pl.col("pred_type").is_in(list(COLOURS)))
    bed = site_lines(_with_contigs(sites, sizes, dataset), sizes)
    files = []
    if bed.height:
        write_bed(bed, out / BED_FILE, f"{Path(dataset).name} sites")
        counts = dict(bed.group_by(pl.col("name").str.slice(0, 2)).len().iter_rows())
        files.append({"file": BED_FILE, "name": "sites", "strand": None, "lines": bed.height, "counts": counts,
                      "sha256": sha256_file(out / BED_FILE)})
    empty = [] if bed.height else [BED_FILE]
    if columns:
        rows = _with_contigs(read_dataset(dataset, list(dict.fromkeys([*_KEY, *columns]))), sizes, dataset)
        written, left = write_frame_tracks(rows, list(dict.fromkeys(columns)), out, sizes, mode,
                                           f"dataset {dataset}")
        files += written
        empty += left
    source = {"kind": "dataset", "path": str(Path(dataset).absolute()), "columns": list(columns)}
    return {"source": source, "files": files, "empty": empty}
