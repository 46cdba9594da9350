"""The dataset card: ``README.md`` beside the data, in the reference's dataset template
(overview, profile, technical specification, how to validate), for people and for hubs that
show a folder's README.
"""

from __future__ import annotations

from fastbuild.builder.schema import PRED_TYPES, ROLES, SPLICE_TYPES
from fastbuild.report import figures
from fastbuild.report.config import CARD_MARKER
from fastbuild.report.facts import DatasetFacts
from fastbuild.report.figures import SHOWN_PRED


def _md_table(headers: list[str], rows: list[list]) -> list[str]:
    def cell(v):
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return str(v).replace("|", "\\|")

    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *("| " + " | ".join(cell(v) for v in r) + " |" for r in rows), ""]


def _overview(facts: DatasetFacts) -> list[str]:
    info, cfg = facts.info, facts.info.get("config", {})
    scores = info.get("scores") or {}
    return [
        "## Overview", "",
        f"A position-centric splice-site dataset: one row per kept nucleotide of {info.get('genes', 0):,} genes, "
        "labelled donor / acceptor / neither (`splice_type`, target `y`) and TP / FP / FN / TN against the base "
        "model (`pred_type`). The profile, with plots, is in [report.html](report.html).", "",
        f"- rows: {info.get('rows', 0):,} in {info.get('batches', 0)} batch file(s) under `master/`; "
        f"positions scanned: {info.get('positions_scanned', 0):,}",
        f"- mode: {info.get('mode', '?')}",
        f"- base model: {scores.get('model') or '?'} ({scores.get('precision') or '?'}); "
        f"threshold {cfg.get('threshold')}, consensus window ±{cfg.get('consensus_window')}",
        f"- genes: policy `{(info.get('selection') or {}).get('policy', '?')}`, seed {info.get('seed')}; "
        f"split `{(info.get('split') or {}).get('spec', 'none')}`",
        f"- built {info.get('created', '?')} by fastbuild {(info.get('libraries') or {}).get('fastbuild', '?')}, "
        f"configuration hash `{str(info.get('config_hash', '?'))[:16]}`", ""]


def _profile(facts: DatasetFacts) -> list[str]:
    c = facts.counts()
    rows = [[p, *(int(c[PRED_TYPES.index(p), j]) for j in range(len(SPLICE_TYPES))),
             int(c[PRED_TYPES.index(p)].sum())] for p in SHOWN_PRED]
    out = ["## Profile", "", "Rows by label:", "", *_md_table(["pred_type", *SPLICE_TYPES, "total"], rows)]
    st = facts.strata()
    if st is not None:
        out += ["Sampling strata (every position falls in one; easy true negatives are sampled):", "",
                *_md_table(["stratum", "positions", "rows kept"], [[n, p, r] for n, (p, r) in st.items()])]
    if facts.manifest is not None:
        t = figures.gene_type_table(facts)
        cols = [x for x in ("gene_type", "genes", "rows", "TP", "FP", "FN") if x in t.columns]
        out += ["Gene types:", "", *_md_table(cols, [list(r) for r in t.select(cols).iter_rows()])]
    splits = facts.splits()
    if splits is not None:
        cols = [x for x in ("split", "genes", "rows") if x in splits.columns]
        out += ["Splits (whole gene clusters per split):", "",
                *_md_table(cols, [list(r) for r in splits.select(cols).iter_rows()])]
    return out


def _technical(facts: DatasetFacts) -> list[str]:
    cols = facts.columns()
    by_role = {r: [c[0] for c in cols if c[2] == r] for r in ROLES}
    rows = [[r, len(names), ", ".join(f"`{n}`" for n in names[:8]) + (" ..." if len(names) > 8 else "")]
            for r, names in by_role.items() if names]
    return ["## Technical specification", "",
            "Files: `master/batch_NNNNN.parquet` (the rows), `gene_manifest.csv` (one row per gene), "
            "`build_info.json` and `BUILD_INFO.md` (what was built), `_SUCCESS` (written last, with the sha256 "
            "of every batch file), `report.html` (the profile with plots).", "",
            f"Schema: {len(cols)} columns, each with a role, a source and a description in its field metadata; "
            "the schema metadata lists what to drop for training (`fastbuild.drop_for_training`, "
            "`fastbuild.drop_for_annotated_training`), the target (`y`) and the weight (`sample_weight`).", "",
            *_md_table(["role", "columns", "for example"], rows)]


def _validate(facts: DatasetFacts) -> list[str]:
    name = facts.name
    return ["## How to validate", "", f"From the folder that holds `{name}/`:", "",
            "```bash", f"fastbuild validate {name}        # exit status 0 only when every check holds",
            f"fastbuild report {name}          # rewrite report.html and this card", "```", "",
            "`validate` checks the batch files against the checksums in `_SUCCESS`, one schema in every file, "
            "the k-mer columns, labels, positions inside their genes, the manifest and the class counts "
            "of `build_info.json`.", "",
            "```python", "import json, polars as pl, pyarrow.parquet as pq",
            f'schema = pq.read_schema("{name}/master/batch_00001.parquet")',
            'drop = json.loads(schema.metadata[b"fastbuild.drop_for_training"])',
            f'df = pl.read_parquet("{name}/master/*.parquet")',
            'X, y, w = df.drop(drop).to_numpy(), df["y"].to_numpy(), df["sample_weight"].to_numpy()', "```", ""]


def render_card(facts: DatasetFacts) -> str:
    """The dataset card's Markdown (first line: :data:`~fastbuild.report.config.CARD_MARKER`)."""
    lines = [CARD_MARKER, f"# {facts.name}", "", *_overview(facts), *_profile(facts), *_technical(facts),
             *_validate(facts)]
    return "\n".join(lines).rstrip() + "\n"
