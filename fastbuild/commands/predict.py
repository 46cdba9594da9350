"""``fastbuild predict``: the options of :class:`~fastbuild.predict.PredictConfig`, then one protocol step."""

from __future__ import annotations

import json

from fastbuild.basemodel.config import PredictConfig
from fastbuild.commands import options as cli_options

DESCRIPTION = (
    "Score every nucleotide of the selected genes on their own strand with a SpliceAI-architecture ensemble (full "
    "flanking context, N past contig ends), average the ensemble and write a chunked, resumable score store. Runs "
    "the published weights in numpy: no TensorFlow, no PyTorch."
)


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="score genes with SpliceAI / OpenSpliceAI weights into a score store",
                       description=DESCRIPTION, formatter_class=cli_options.HelpFormatter)
    groups = cli_options.add_config_arguments(p, PredictConfig(), cli_options.work_group("scoring"))
    cli_options.add_step_args(p, groups, "scoring")
    p.set_defaults(func=run_predict)


def run_predict(args) -> int:
    config = cli_options.config_from_args(PredictConfig(), args)  # checks every option before any engine loads
    from fastbuild import predict

    step = cli_options.step_of(args)
    if step == "plan":
        job = predict.plan_predict(config)
        cli_options.print_plan({"units": len(job.units), "genes": job.plan["genes_to_score"],
                                "plan": str(job.store.plan_path(job.plan["key"]))}, "genes to score")
        engine, seconds = job.estimate()
        guess = f"~{seconds / 60:,.1f} min" if seconds is not None else "no measured rate for it yet"
        print(f"to score: {job.nucleotides_to_score():,} nt on the {engine} engine ({config.precision}): {guess} "
              "(from docs/engines.md's rates for the 10000nt ensemble on 2 CPU cores; an order of magnitude)")
        return 0
    if step == "unit":
        i = predict.run_predict_unit(predict.open_predict_plan(config), args.unit)
        cli_options.print_unit(i, f"{i['genes']} genes in {i['file']}")
        return 0
    if step == "finalise":
        summary = predict.finalise_predict(predict.open_predict_plan(config))
    else:
        summary = predict.predict(config, executor=cli_options.executor_of(config.run))
    print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, (dict, list))}, indent=1))
    return 0
