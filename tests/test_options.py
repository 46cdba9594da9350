"""Options declared once: the parsers derive from the configuration dataclasses, and old builds still resume.

``tests/data/build_config_v1.json`` and ``tests/data/demo_plan_v1.json`` were written by the code
before options were declared once (commit 42ca9ae): the configuration hash must not change, or
every existing output folder would refuse to resume.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from fastbuild.basemodel.config import PredictConfig
from fastbuild.builder.config import BuildConfig
from fastbuild.builder.engine import build_dataset, plan_build
from fastbuild.cli import get_parser
from fastbuild.options import iter_options, option
from fastbuild.specs import PrepareConfig

DATA = Path(__file__).parent / "data"
CONFIGS = {"build": BuildConfig(), "predict": PredictConfig(), "prepare": PrepareConfig()}


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in get_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions}


@pytest.mark.parametrize("command", sorted(CONFIGS))
def test_every_cli_default_is_the_dataclass_default(command):
    config, actions = CONFIGS[command], _actions(_subparser(command))
    checked = 0
    for path, field, _meta in iter_options(config):
        value = config
        for name in path:
            value = getattr(value, name)
        assert path[-1] in actions, f"{command}: option {'.'.join(path)} has no flag"
        cli_default = actions[path[-1]].default
        assert cli_default == value, f"{command} --{field.name}: {cli_default!r} != {value!r}"
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("command", sorted(CONFIGS))
def test_defaults_parse_back_to_the_default_configuration(command):
    from fastbuild.commands.options import config_from_args

    required = {"build": {}, "predict": {"model": "m", "scores": "s"},
                "prepare": {"fasta": "f", "annotation": "a", "out": "o"}}[command]
    flags = {"annotation": "--gtf"}
    extra = [x for name, value in required.items() for x in (flags.get(name, f"--{name}"), value)]
    got = config_from_args(CONFIGS[command], get_parser().parse_args([command, *extra]))
    assert got == dataclasses.replace(CONFIGS[command], **required)


@pytest.mark.parametrize("command", sorted(CONFIGS))
def test_every_option_field_has_help_and_every_flag_a_field(command):
    config = CONFIGS[command]
    declared = {path[-1] for path, _f, _m in iter_options(config)}

    def undocumented(obj) -> list[str]:
        bad = []
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                bad += undocumented(value)
            elif not (f.metadata.get("fastbuild") or {}).get("help"):
                bad.append(f.name)
        return bad

    assert not undocumented(config)
    steps = {"help", "plan_only", "unit", "finalise"}  # --help and the protocol steps: not configuration
    flags = {a.dest for a in _subparser(command)._actions} - steps
    logging = {"verbose"} if command == "prepare" else set()  # RunOptions' -v, added on its own
    assert flags == declared | logging


def test_a_cli_value_is_parsed_and_checked():
    from fastbuild.commands.options import config_from_args

    args = get_parser().parse_args(["build", "--kmer-sizes", "3,5", "--context-flank", "10", "20", "--jobs", "2",
                                    "--gene-types", "protein_coding", "--no-progress", "-vv"])
    config = config_from_args(BuildConfig(), args)
    assert config.kmer_sizes == (3, 5) and config.context_flank == (10, 20) and config.run.jobs == 2
    assert config.selection.gene_types == ("protein_coding",) and not config.run.progress and config.run.verbose == 2
    args = get_parser().parse_args(["predict", "--model", "m", "--scores", "s", "--dask-resources", "GPU=1"])
    assert config_from_args(PredictConfig(), args).dask_resources == {"GPU": 1.0}


def test_predict_offers_only_policies_that_need_no_scores():
    with pytest.raises(SystemExit):
        get_parser().parse_args(["predict", "--model", "m", "--scores", "s", "--subset-policy", "error_total"])
    from fastbuild.errors import FastbuildError

    with pytest.raises(FastbuildError, match="needs scores"):
        PredictConfig(model="m", scores="s").replace(subset_policy="error_fp")


def test_a_declared_check_runs():
    @dataclasses.dataclass(frozen=True)
    class Small:
        n: int = option(1, "a number", check=lambda name, v: (_ for _ in ()).throw(ValueError(name)) if v < 0 else 0)

        def __post_init__(self):
            from fastbuild.options import check_fields

            check_fields(self)

    Small(3)
    with pytest.raises(ValueError, match="n"):
        Small(-1)


def test_unknown_flat_option_is_refused():
    with pytest.raises(TypeError, match="unknown build option 'bogus'"):
        BuildConfig().replace(bogus=1)
    with pytest.raises(TypeError, match="unknown predict option 'bogus'"):
        PredictConfig().replace(bogus=1)


# ---------------------------------------------------------------------- the configuration hash is unchanged
@pytest.mark.parametrize("case", json.loads((DATA / "build_config_v1.json").read_text()), ids=["default", "sparse",
                                                                                               "transcript"])
def test_rows_relevant_options_are_those_of_before(case):
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in case["options"].items()}
    config = BuildConfig.from_options(**options)
    # training builds' default --pseudogenes drop adds its one key; 'keep' gives the rows, and hash, of before
    assert config.rows_relevant() == {**case["rows_relevant"], **({} if config.eval_mode else {"pseudogenes": "drop"})}
    assert config.replace(pseudogenes="keep").rows_relevant() == case["rows_relevant"]
    # the same values under the same flat names (new keys only added); the one change: output_dir's
    # library default is now the command line's, fastbuild_out (None still builds in memory)
    old = {k: v for k, v in case["to_dict"].items() if not (k == "output_dir" and "output_dir" not in case["options"])}
    new = config.to_dict()
    assert {k: new[k] for k in old} == old


def test_an_old_demo_build_folder_resumes(tmp_path):
    """A folder holding the plan.json of the code before this change: same hash, same units, no refusal."""
    old = json.loads((DATA / "demo_plan_v1.json").read_text())
    out = tmp_path / "old"
    out.mkdir()
    shutil.copy(DATA / "demo_plan_v1.json", out / "plan.json")
    plan = plan_build(output_dir=str(out), progress=False)
    assert plan.config_hash == old["hash"] and plan.units() == old["units"]
    result = build_dataset(output_dir=str(out), progress=False)
    assert result.info["rows"] > 0 and (out / "_SUCCESS").exists()


def test_path_objects_are_taken_as_strings(tmp_path):
    """pathlib.Path values are accepted for every path option, as their strings (the library's
    ``**options`` path; a build's configuration once failed to serialise one, variants to check one)."""
    from fastbuild.variants.config import VariantsConfig

    p = tmp_path / "x"
    assert BuildConfig.from_options(output_dir=p, reference=p).to_dict()["output_dir"] == str(p)
    assert BuildConfig(output_dir=p).to_dict()["output_dir"] == str(p)  # constructed directly, too
    assert PredictConfig().replace(scores=p).scores == str(p)
    v = VariantsConfig().replace(vcf=p, out=p, fasta=p, annotation=p)
    assert (v.vcf, v.out, v.inputs.annotation) == (str(p), str(p), str(p))
