"""``fastbuild variants``: the options of :class:`~fastbuild.variants.config.VariantsConfig`, then one protocol step."""

from __future__ import annotations

import json

from fastbuild.commands import options as cli_options
from fastbuild.variants.config import VariantsConfig

DESCRIPTION = (
    "Annotate a VCF with SpliceAI 1.3.1's delta scores (INFO ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|"
    "DP_DL, one entry per alternative allele and gene), with SpliceAI's rules and numbers, or with an OpenSpliceAI "
    "ensemble; records it cannot score pass through unannotated, each with a reason. Runs in numpy: no TensorFlow."
)


def add_parser(sub) -> None:
    p = sub.add_parser("variants", help="SpliceAI delta scores for the variants of a VCF (exact, fast)",
                       description=DESCRIPTION, formatter_class=cli_options.HelpFormatter)
    groups = cli_options.add_config_arguments(p, VariantsConfig(), cli_options.work_group("annotation"))
    cli_options.add_step_args(p, groups, "annotation")
    p.set_defaults(func=run_variants)


def run_variants(args) -> int:
    from fastbuild.variants import job

    config = cli_options.config_from_args(VariantsConfig(), args)
    step = cli_options.step_of(args)
    if step == "plan":
        j = job.plan_variants(config)
        cli_options.print_plan({"units": len(j.units), "genes": j.plan["records"],
                                "plan": str(j.folder / job.PLAN_FILE)}, "records")
        return 0
    if step == "unit":
        i = job.run_variants_unit(job.open_variants_plan(config), args.unit)
        cli_options.print_unit(i, f"{i['records']} records")
        return 0
    if step == "finalise":
        summary = job.finalise_variants(job.open_variants_plan(config))
    else:
        summary = job.annotate_vcf(config, executor=cli_options.executor_of(config.run))
    print(json.dumps(summary, indent=1))
    return 0
