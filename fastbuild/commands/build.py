"""``fastbuild build``: the options of :class:`~fastbuild.builder.config.BuildConfig`, then one protocol step."""

from __future__ import annotations

import os
from pathlib import Path

from fastbuild.builder.config import BuildConfig
from fastbuild.commands import options as cli_options
from fastbuild.errors import FastbuildError

DESCRIPTION = (
    "Select genes, label every position against the annotation and the base model's scores (TP/FP/FN/TN), "
    "downsample easy true negatives, featurise the kept rows (k-mers, score context, composition, gene features) "
    "and stream them into Parquet batch files. Rerunning the same command resumes an interrupted build. "
    "Without --fasta/--gtf/--reference it builds the embedded Arabidopsis demo."
)


def add_parser(sub) -> None:
    p = sub.add_parser("build", help="build the training dataset (no input flags: the embedded demo)",
                       description=DESCRIPTION, formatter_class=cli_options.HelpFormatter)
    groups = cli_options.add_config_arguments(p, BuildConfig(), cli_options.work_group("build"))
    cli_options.add_step_args(p, groups, "build")
    p.set_defaults(func=run_build)


def run_build(args) -> int:
    config = cli_options.config_from_args(BuildConfig(), args)  # checks every option before any engine loads
    if config.run_workflow and not config.model:
        raise FastbuildError("--run-workflow needs --model (the base model that scores the genes)")
    from fastbuild.builder import allocators

    # for this process's build units and the local workers it starts (see fastbuild.builder.allocators);
    # os.environ as it was afterwards, and what can be undone undone, for a program that calls main() itself
    before = os.environ.get(allocators.ENV)
    os.environ.setdefault(allocators.ENV, "1")
    try:
        return _run_build(args, config)
    finally:
        if before is None:
            os.environ.pop(allocators.ENV, None)
            allocators.untune()


def _run_build(args, config: BuildConfig) -> int:
    from fastbuild.builder import engine
    from fastbuild.builder.report import summary_lines

    step = cli_options.step_of(args)
    if step == "plan":
        plan = engine.plan_build(config)
        cli_options.print_plan({"units": len(plan.units()), "genes": plan.genes.height,
                                "plan": str(plan.output_dir / "plan.json")}, "genes")
    elif step == "unit":
        i = engine.run_build_unit(engine.open_build_plan(config), args.unit)
        cli_options.print_unit(i, f"{i['genes']} genes, {i['rows']:,} rows in {i['file']}")
    elif step == "finalise":
        result = engine.finalise_build(engine.open_build_plan(config))
        print(summary_lines(result.info, result.output_dir))
    else:
        executor = cli_options.executor_of(config.run, guard_dir=Path(config.output_dir).absolute())
        result = engine.build_dataset(config, executor=executor)
        print(summary_lines(result.info, result.output_dir))
    return 0
