"""The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched).

Sections follow the dataset template of the reference builder: overview, profile, technical
specification and how to validate.
"""

from __future__ import annotations

import json
from html import escape

import polars as pl

from fastbuild.builder.schema import PRED_TYPES, SPLICE_TYPES
from fastbuild.report import figures
from fastbuild.report.facts import DatasetFacts
from fastbuild.report.figures import SHOWN_PRED, Figure

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;
 padding:0 24px 48px;color:#222;line-height:1.45}
h1{margin:24px 0 4px}h2{border-bottom:2px solid #0072b2;padding-bottom:4px;margin-top:40px}
h3{margin:28px 0 8px}.sub{color:#555;margin:0 0 12px}
nav a{margin-right:16px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #d7dde5;border-radius:6px;padding:8px 14px;min-width:120px;background:#f7f9fc}
.card b{display:block;font-size:20px}.card span{color:#555;font-size:12px}
.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure{margin:8px 0;border:1px solid #e3e3e3;border-radius:6px;padding:8px;background:#fff}
figcaption{color:#555;font-size:12px;max-width:600px}
svg.plot{max-width:100%;height:auto;display:block}
.missing{color:#8a5a00;background:#fff7e6;border:1px dashed #e6b35c;padding:12px;width:560px;margin:0}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #d7dde5;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef2f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{background:#f3f3f3;border-radius:4px}pre{padding:10px;overflow-x:auto}
.role{display:inline-block;border-radius:3px;padding:0 5px;color:#fff;font-size:12px}
"""
ROLE_COLOURS = {"id": "#555", "group": "#6a5acd", "label": "#c0392b", "leaky": "#d55e00", "weight": "#8c6d1f",
                "annotation": "#0072b2", "feature": "#2e8b57"}
#: A run of columns alike (k-mers, score context) longer than this is shown by its first and last names.
MAX_LISTED = 12


def table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    """An HTML table (cells escaped; numbers with thousands separators, right-aligned)."""
    def cell(i, v):
        if isinstance(v, float):
            v = f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        elif isinstance(v, int) and not isinstance(v, bool):
            v = f"{v:,}"
        return f'<td class="n">{escape(str(v))}</td>' if i in numeric else f"<td>{escape(str(v))}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    head = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    return f"<table>{head}<tbody>{body}</tbody></table>"


def figure(f: Figure) -> str:
    if f.svg is None:
        return f'<figure data-plot="{f.plot_id}"><p class="missing">{escape(f.plot_id)}: {escape(f.note)}</p></figure>'
    return f'<figure data-plot="{f.plot_id}">{f.svg}<figcaption>{escape(f.note)}</figcaption></figure>'


def _cards(facts: DatasetFacts) -> str:
    info, c = facts.info, facts.counts()
    items = [("genes", f"{info.get('genes', 0):,}"), ("positions scanned", f"{info.get('positions_scanned', 0):,}"),
             ("rows", f"{info.get('rows', 0):,}"), ("batch files", f"{info.get('batches', 0):,}")]
    items += [(f"{p} rows", f"{int(c[PRED_TYPES.index(p)].sum()):,}") for p in SHOWN_PRED]
    return '<div class="cards">' + "".join(f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
                                           for k, v in items) + "</div>"


def overview(facts: DatasetFacts) -> str:
    info, cfg = facts.info, facts.info.get("config", {})
    scores = info.get("scores") or {}
    rows = [["built", info.get("created", "?")], ["fastbuild", (info.get("libraries") or {}).get("fastbuild", "?")],
            ["mode", info.get("mode", "?")], ["base model", f"{scores.get('model') or '?'} "
                                                            f"({scores.get('precision') or '?'})"],
            ["genes chosen", f"policy {(info.get('selection') or {}).get('policy', '?')}, seed {info.get('seed')}"],
            ["labels", f"threshold {cfg.get('threshold')}, consensus window ±{cfg.get('consensus_window')}"],
            ["k-mers", f"{cfg.get('kmer_sizes')} ({cfg.get('kmer_layout')}), context flank {cfg.get('context_flank')}"],
            ["split", (info.get("split") or {}).get("spec", "none")], ["position ids", cfg.get("position_id_mode")],
            ["configuration hash", info.get("config_hash", "?")]]
    return ('<section id="overview"><h2>Overview</h2>' + _cards(facts) + table(["", ""], rows) + "</section>")


def _label_table(facts: DatasetFacts) -> str:
    c = facts.counts()
    rows = [[p, *(int(c[PRED_TYPES.index(p), j]) for j in range(len(SPLICE_TYPES))),
             int(c[PRED_TYPES.index(p)].sum())] for p in SHOWN_PRED]
    rows.append(["total", *(int(c[:, j].sum()) for j in range(len(SPLICE_TYPES))), int(c.sum())])
    return table(["pred_type", *SPLICE_TYPES, "total"], rows, set(range(1, len(SPLICE_TYPES) + 2)))


def _strata_table(facts: DatasetFacts) -> str:
    st = facts.strata()
    if st is None:
        return ""
    rows = [[n, p, r, f"{r / p:.2%}" if p else "-"] for n, (p, r) in st.items()]
    return table(["stratum", "positions", "rows kept", "kept"], rows, {1, 2, 3})


def _gene_type_table(facts: DatasetFacts) -> str:
    if facts.manifest is None:
        types = facts.info.get("gene_types") or {}
        return table(["gene_type", "genes"], [[k, v] for k, v in types.items()], {1})
    t = figures.gene_type_table(facts)
    cols = ["gene_type", "genes", "rows", *[p for p in SHOWN_PRED if p in t.columns], "median_length",
            "median_density"]
    return table(cols, [list(r) for r in t.select(cols).iter_rows()], set(range(1, len(cols))))


def _split_table(facts: DatasetFacts) -> str:
    t = facts.splits()
    if t is None:
        return ""
    cols = [c for c in ("split", "genes", "rows", *SHOWN_PRED) if c in t.columns]
    return table(cols, [list(r) for r in t.select(cols).iter_rows()], set(range(1, len(cols))))


def _top_error_genes(facts: DatasetFacts, n: int = 10) -> str:
    if not facts.gene_counts_recorded():
        return ""
    genes = facts.genes().with_columns(errors=pl.col("FP") + pl.col("FN"))
    top = genes.sort(["errors", "gene_id"], descending=[True, False]).head(n)
    cols = ["gene_id", "errors", "TP", "FP", "FN", "rows"]
    return (f"<div><p>The {n} genes with most base-model errors (FP + FN):</p>"
            + table(cols, [list(r) for r in top.select(cols).iter_rows()], {1, 2, 3, 4, 5}) + "</div>")


def profile(facts: DatasetFacts) -> str:
    f = {fig.plot_id: figure(fig) for fig in (figures.labels(facts), figures.strata(facts), *figures.scores(facts),
                                              figures.gene_types(facts), figures.errors_per_gene(facts),
                                              figures.gene_length(facts), figures.splice_density(facts),
                                              figures.splits(facts))}
    parts = [
        '<section id="profile"><h2>Profile</h2>',
        "<h3>Rows by label</h3>", '<div class="row">', _label_table(facts), f["plot-labels"], "</div>",
        "<h3>Rows by sampling stratum</h3>", '<div class="row">', _strata_table(facts), f["plot-strata"], "</div>",
        "<h3>Score distributions by pred_type</h3>",
        '<div class="row">', f["plot-scores-donor"], f["plot-scores-acceptor"], "</div>",
        "<h3>Gene types</h3>", '<div class="row">', _gene_type_table(facts), f["plot-gene-types"], "</div>",
        "<h3>TP, FP and FN per gene</h3>", '<div class="row">', f["plot-errors-per-gene"],
        _top_error_genes(facts), "</div>",
        "<h3>Gene length and splice density</h3>",
        '<div class="row">', f["plot-gene-length"], f["plot-splice-density"], "</div>",
        "<h3>Splits</h3>", '<div class="row">', _split_table(facts), f["plot-splits"], "</div>",
        "</section>",
    ]
    return "\n".join(parts)


def _doc_key(name: str, doc: str) -> str:
    """A column's description with its own name's last part left out: ``count of AAA in the window`` of
    ``3mer_AAA`` reads like every other k-mer's, so the family shares one row of the schema table."""
    part = name.rpartition("_")[2]
    return doc.replace(part, "{}") if len(part) > 1 and part in doc else doc


def schema_rows(facts: DatasetFacts) -> list[list[str]]:
    """(columns, type, role, source, description) rows: neighbouring columns alike (same type, role, source and
    description but for their own name: k-mer counts, score context, sequence codes) on one row, their names
    listed (long runs elided)."""
    rows: list[list] = []  # [names, type, role, source, description, descriptions vary, last description]
    for name, kind, role, source, doc in facts.columns():
        last = rows[-1] if rows else None
        if last is not None and last[1:4] == [kind, role, source] and (
                doc == last[6] or _doc_key(name, doc) == _doc_key(last[0][-1], last[6])):
            last[0].append(name)
            last[5], last[6] = last[5] or doc != last[6], doc
        else:
            rows.append([[name], kind, role, source, doc, False, doc])
    out = []
    for names, kind, role, source, doc, varied, _ in rows:
        shown = names if len(names) <= MAX_LISTED else [*names[:3], "…", names[-1]]
        out.append([", ".join(shown) + (f" ({len(names)} columns)" if len(names) > 1 else ""), kind, role, source,
                    f"{doc}, ..." if varied else doc])
    return out


def _role_cell(role: str) -> str:
    return f'<span class="role" style="background:{ROLE_COLOURS.get(role, "#999")}">{escape(role)}</span>'


def technical(facts: DatasetFacts) -> str:
    rows = schema_rows(facts)
    body = "".join(f"<tr><td><code>{escape(r[0])}</code></td><td>{escape(r[1])}</td><td>{_role_cell(r[2])}</td>"
                   f"<td>{escape(r[3])}</td><td>{escape(r[4])}</td></tr>" for r in rows)
    schema = ("<table><thead><tr><th>column</th><th>type</th><th>role</th><th>source</th><th>description</th>"
              f"</tr></thead><tbody>{body}</tbody></table>")
    drop = facts.schema_meta("drop_for_training") or []
    meta = [["columns", len(facts.schema)], ["target", facts.schema_meta("target") or "y"],
            ["weight", facts.schema_meta("weight") or "sample_weight"],
            ["drop for training (fastbuild.drop_for_training)", f"{len(drop)} columns"],
            ["format version", facts.info.get("format_version", "?")], ["mode", facts.schema_meta("mode") or "?"]]
    config = [[k, json.dumps(v)] for k, v in sorted((facts.info.get("config") or {}).items())]
    libs = [[k, v or "-"] for k, v in (facts.info.get("libraries") or {}).items()]
    timings = [[k, f"{v:.2f}"] for k, v in (facts.info.get("timings_s") or {}).items()]
    return "\n".join([
        '<section id="technical"><h2>Technical specification</h2>', files_html(facts),
        "<h3>Schema and column roles</h3>", '<div class="row">', table(["", ""], meta, {1}),
        figure(figures.roles(facts)), "</div>", schema,
        '<div class="row"><div><h3>Configuration</h3>', table(["option", "value"], config), "</div>",
        "<div><h3>Libraries</h3>", table(["library", "version"], libs), "<h3>Timings (s)</h3>",
        table(["step", "seconds"], timings, {1}), "</div></div></section>"])


def files_html(facts: DatasetFacts) -> str:
    rows = [["master/batch_NNNNN.parquet", f"{len(facts.batches)} file(s), {facts.info.get('rows', 0):,} rows"],
            ["gene_manifest.csv", "one row per gene" if facts.manifest is not None else "not written (--no-manifest)"],
            ["build_info.json, BUILD_INFO.md", "what was built: configuration, inputs, counts, timings"],
            ["_SUCCESS", "written last: the plan's hash and the sha256 of every batch file"],
            ["report.html, README.md", "this report and the dataset card"]]
    return "<h3>Files</h3>" + table(["file", "content"], rows)


def validation(facts: DatasetFacts) -> str:
    name = escape(facts.name)
    return f"""<section id="validate"><h2>How to validate</h2>
<p><code>fastbuild validate {name}</code> checks the folder against its own declarations and exits with status 0
only when all hold: batch files present as <code>_SUCCESS</code> says and matching its sha256 checksums, one
schema in every file, the expected k-mer columns, labels complete and consistent, positions inside their genes,
the manifest agreeing with the files and the class counts agreeing with <code>build_info.json</code>
(<code>--json</code> for a machine-readable report).</p>
<p>From the folder that holds <code>{name}/</code>:</p>
<pre>fastbuild validate {name}
fastbuild report {name}     # this page and README.md again</pre>
<p>Reading the rows for training, with the schema's own drop list:</p>
<pre>import json, polars as pl, pyarrow.parquet as pq
schema = pq.read_schema("{name}/master/batch_00001.parquet")
drop = json.loads(schema.metadata[b"fastbuild.drop_for_training"])
df = pl.read_parquet("{name}/master/*.parquet")
X, y, w = df.drop(drop).to_numpy(), df["y"].to_numpy(), df["sample_weight"].to_numpy()</pre>
</section>"""


def render(facts: DatasetFacts) -> str:
    """The whole report page."""
    title = f"fastbuild dataset: {facts.name}"
    sub = (f"{facts.info.get('rows', 0):,} rows from {facts.info.get('genes', 0):,} genes; built "
           f"{facts.info.get('created', '?')} by fastbuild {(facts.info.get('libraries') or {}).get('fastbuild', '?')}")
    nav = "".join(f'<a href="#{i}">{t}</a>' for i, t in (("overview", "Overview"), ("profile", "Profile"),
                                                         ("technical", "Technical specification"),
                                                         ("validate", "How to validate")))
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">', '<link rel="icon" href="data:,">',
        f"<title>{escape(title)}</title>", f"<style>{CSS}</style>", "</head><body>",
        f"<h1>{escape(title)}</h1>", f'<p class="sub">{escape(sub)}</p>', f"<nav>{nav}</nav>",
        overview(facts), profile(facts), technical(facts), validation(facts),
        '<p class="sub">Written by <code>fastbuild report</code> from the statistics the build recorded.</p>',
        "</body></html>", ""])
