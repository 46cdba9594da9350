"""A meta-model's predictions -> bigWigs of ``p_donor`` and ``p_acceptor`` (``fastbuild tracks --predictions``).

The predictions file is a Parquet of ``gene_id, position, p_donor, p_acceptor`` (``p_neither``
too when present): what a meta-model gives for the rows the loaders hand out with
``ids=("gene_id", "position")``. Each gene's values go on its strand; the file's own ``chrom``
and ``strand`` columns say where, or else the dataset the rows came from (``--dataset``).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fastbuild.errors import FastbuildError
from fastbuild.files import read_parquet
from fastbuild.tracks.contig_sizes import match_contigs
from fastbuild.tracks.dataset_tracks import read_dataset
from fastbuild.tracks.frame_tracks import write_frame_tracks

__all__ = ["VALUE_COLUMNS", "export_predictions"]

VALUE_COLUMNS = ("p_donor", "p_acceptor", "p_neither")
_NEEDED = ("gene_id", "position", "p_donor", "p_acceptor")


def read_predictions(path, dataset) -> pl.DataFrame:
    """gene_id, chrom, strand, position and the value columns of a predictions file, checked."""
    df = read_parquet(path, "predictions file")
    missing = [c for c in _NEEDED if c not in df.columns]
    if missing:
        raise FastbuildError(f"predictions file {path} lacks column(s) {', '.join(missing)}; it needs "
                             f"{', '.join(_NEEDED)} (the loaders' ids gene_id and position, the model's "
                             "probabilities)")
    if not df.schema["position"].is_integer():
        raise FastbuildError(f"predictions file {path}: column position is {df.schema['position']}, not integer")
    values = [c for c in VALUE_COLUMNS if c in df.columns]
    bad = [c for c in values if not df.schema[c].is_numeric()]
    if bad:
        raise FastbuildError(f"predictions file {path}: column {bad[0]} is {df.schema[bad[0]]}, not numeric")
    if df.height == 0:
        raise FastbuildError(f"predictions file {path} has no rows; nothing to export")
    _check_values(path, df)
    df = df.with_columns(pl.col("gene_id").cast(pl.Utf8))
    if "chrom" not in df.columns or "strand" not in df.columns:
        df = df.drop([c for c in ("chrom", "strand") if c in df.columns]).join(
            _gene_places(path, dataset), on="gene_id", how="left")
        lost = df.filter(pl.col("chrom").is_null())["gene_id"].unique(maintain_order=True).to_list()
        if lost:
            raise FastbuildError(f"predictions file {path}: {len(lost)} gene(s) are not in dataset {dataset} "
                                 f"(e.g. {lost[0]}); give the dataset the predictions were made on")
    strands = set(df["strand"].cast(pl.Utf8).unique().to_list()) - {"+", "-"}
    if strands:
        raise FastbuildError(f"predictions file {path}: strand {sorted(map(str, strands))[0]!r} is not '+' or '-'")
    return df.select("gene_id", pl.col("chrom").cast(pl.Utf8), pl.col("strand").cast(pl.Utf8),
                     pl.col("position").cast(pl.Int64), *values)


def _check_values(path, df: pl.DataFrame) -> None:
    """One line for a null id or place, or a position below 1 (positions are 1-based)."""
    for c in ("gene_id", "position", "chrom", "strand"):
        if c in df.columns and df[c].null_count():
            row = int(df[c].is_null().arg_max())
            raise FastbuildError(f"predictions file {path}: row {row + 1} has no {c} (null)")
    low = df.filter(pl.col("position") < 1)
    if low.height:
        raise FastbuildError(f"predictions file {path}: position {low['position'][0]} is below 1 (positions are "
                             "1-based, as the loaders give them)")


def _gene_places(path, dataset) -> pl.DataFrame:
    if dataset is None:
        raise FastbuildError(f"predictions file {path} has no chrom and strand columns; give --dataset DIR (the "
                             "build the predictions were made on) to place its genes")
    rows = read_dataset(dataset, ["gene_id", "chrom", "strand"])
    return rows.select(pl.col("gene_id").cast(pl.Utf8), pl.col("chrom").cast(pl.Utf8),
                       pl.col("strand").cast(pl.Utf8)).unique("gene_id", keep="first")


def export_predictions(path, out: Path, sizes: dict[str, int], mode: str, dataset=None) -> dict:
    """Write ``p_donor``, ``p_acceptor`` (and ``p_neither``) bigWigs of a predictions file into ``out``.

    Returns
    -------
    dict
        ``source``, ``files`` (records of the files written) and ``empty`` (files left out).
    """
    df = read_predictions(path, dataset)
    mapping = match_contigs({c: None for c in df["chrom"].unique(maintain_order=True).to_list()}, sizes,
                            f"predictions file {path}")
    rows = df.with_columns(contig=pl.col("chrom").replace_strict(mapping, return_dtype=pl.Utf8))
    names = [c for c in VALUE_COLUMNS if c in df.columns]
    files, empty = write_frame_tracks(rows, names, out, sizes, mode, f"predictions file {path}")
    source = {"kind": "predictions", "path": str(Path(path).absolute()), "rows": df.height,
              "genes": df["gene_id"].n_unique(), "dataset": str(Path(dataset).absolute()) if dataset else None}
    return {"source": source, "files": files, "empty": empty}
