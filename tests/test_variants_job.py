"""fastbuild variants through the run protocol: units, job arrays, local workers, resume; rows for meta-models."""

from __future__ import annotations

import pytest

from fastbuild.errors import FastbuildError
from tests.conftest import need
from tests.test_variants import HEADER, TEST_FA, _weights, info_entries, records, run

GENE = "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\nBIG\t10\t+\t0\t110000\t0,94500,\t94100,110000,\n"
BODY = "".join(f"10\t{p}\t.\t{r}\t{a}\t.\t.\tCLNSIG={lab}\n" for p, r, a, lab in [
    (94077, "A", "C", "Pathogenic"), (94555, "C", "T", "Benign"), (94010, "CGG", "CGGGG", "Other"),
    (94011, "G", "C,T", "Benign"), (94300, "T", "A", "Pathogenic")])


@pytest.fixture
def inputs(tmp_path):
    need(TEST_FA)
    _weights()
    table = tmp_path / "big.txt"
    table.write_text(GENE)
    src = tmp_path / "in.vcf"
    src.write_text(HEADER + BODY)
    return tmp_path, src, table


def test_units_and_workers_give_the_same_output(inputs):
    tmp, src, table = inputs
    one = run(tmp, src, TEST_FA, table, chunk_records=1000).read_text()
    two = run(tmp, src, TEST_FA, table, chunk_records=2, jobs=2).read_text()
    assert one == two
    assert len(records(tmp / "out.vcf")) == 5 and not (tmp / "out.vcf.parts").exists()


def test_job_array_steps_and_resume(inputs):
    from fastbuild.variants import job

    tmp, src, table = inputs
    options = dict(vcf=str(src), out=str(tmp / "out.vcf"), fasta=str(TEST_FA), annotation=str(table), chunk_records=2,
                   progress=False)
    plan = job.plan_variants(**options)
    assert len(plan.units) == 3
    with pytest.raises(FastbuildError, match=r"unfinished variant plan .*0 of 3 units done"):
        job.finalise_variants(job.open_variants_plan(**options))
    assert job.run_variants_unit(job.open_variants_plan(**options), 2)["records"] == 2
    again = job.run_variants_unit(job.open_variants_plan(**options), 2)
    assert again["already_finished"]
    summary = job.annotate_vcf(**options)  # resumes: units 1 and 3 only
    assert summary["resumed_units"] == 1 and summary["records"] == 5
    assert [line.split("\t")[1] for line in records(tmp / "out.vcf")] == ["94077", "94555", "94010", "94011", "94300"]


def test_open_plan_without_plan(inputs):
    from fastbuild.variants import job

    tmp, src, table = inputs
    with pytest.raises(FastbuildError, match="holds no plan"):
        job.open_variants_plan(vcf=str(src), out=str(tmp / "o.vcf"), fasta=str(TEST_FA), annotation=str(table))


def test_multiallelic_and_unscored_pairs(inputs):
    tmp, src, table = inputs
    lines = records(run(tmp, src, TEST_FA, table))
    assert info_entries(lines[2]) == ["CGGGG|BIG|.|.|.|.|.|.|.|."]  # REF and ALT both longer than 1: '.' fields
    assert [e.split("|")[0] for e in info_entries(lines[3])] == ["C", "T"]


def test_custom_info_key_and_gzip_output(inputs):
    import gzip

    tmp, src, table = inputs
    from fastbuild.variants import annotate_vcf

    annotate_vcf(vcf=str(src), out=str(tmp / "o.vcf.gz"), fasta=str(TEST_FA), annotation=str(table), info_key="SAI",
                 progress=False)
    text = gzip.decompress((tmp / "o.vcf.gz").read_bytes()).decode()
    assert '##INFO=<ID=SAI,Number=.,Type=String,Description="SpliceAIv1.3.1 variant annotation.' in text
    assert "SAI=C|BIG|" in text and "SpliceAI=" not in text


def test_output_reads_back_with_htslib(inputs):
    cyvcf2 = pytest.importorskip("cyvcf2")
    tmp, src, table = inputs
    out = run(tmp, src, TEST_FA, table)
    got = [(v.POS, v.INFO.get("SpliceAI")) for v in cyvcf2.VCF(str(out))]
    assert got[0][0] == 94077 and got[0][1].startswith("C|BIG|")


def test_rows_dataset_reads_with_the_loaders(inputs):
    from fastbuild.loaders import BuildReader, iter_batches

    tmp, src, table = inputs
    rows = tmp / "rows"
    run(tmp, src, TEST_FA, table, rows=str(rows), label_field="CLNSIG", label_map=(("Pathogenic", 1), ("Benign", 0)))
    assert (rows / "_SUCCESS").is_file()
    reader = BuildReader(rows, roles=("feature",), target="y", weight=None, ids=("variant_id", "gene"))
    assert "delta_acceptor" in reader.feature_names and "ds_ag" in reader.feature_names
    scored = sum(1 for line in records(tmp / "out.vcf") for e in info_entries(line) if "|.|" not in e)
    assert scored >= 4 and reader.num_rows == scored * 101  # 2D + 1 positions per (record, allele, gene)
    batch = next(iter_batches(rows, roles=("feature",), target="y", weight=None, batch_size=10_000))
    assert set(batch.y.tolist()) == {0, 1}
    import polars as pl

    df = pl.read_parquet(rows / "master" / "*.parquet")
    one = df.filter(pl.col("variant_id") == "10:94077:A:C")
    assert one["offset"].to_list() == list(range(-50, 51))
    assert one["ds_al"].max() == (-one["delta_acceptor"]).max()
    with pytest.raises(FastbuildError, match="--label-map needs --label-field"):
        run(tmp, src, TEST_FA, table, label_map=(("x", 1),))
