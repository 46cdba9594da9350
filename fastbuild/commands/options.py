"""Command-line parsers generated from the configuration dataclasses, and what every job command shares.

An option is declared once, as a field of a configuration dataclass
(:func:`fastbuild.options.option`: flag, help, default, check). :func:`add_config_arguments`
turns every declared field of a configuration (nested parts included) into an argparse option
whose default is the dataclass default, and :func:`config_from_args` turns parsed arguments back
into the configuration; its ``__post_init__`` checks run there, before anything is written.

The steps of the run protocol (``--plan-only``, ``--unit J``, ``--finalise``) are not
configuration: they choose which protocol function a command calls (:func:`add_step_args`).
"""

from __future__ import annotations

import argparse
import dataclasses

from fastbuild.checks import option_name
from fastbuild.options import RunOptions, iter_options

__all__ = ["HelpFormatter", "add_config_arguments", "add_step_args", "add_verbose", "config_from_args", "executor_of",
           "print_plan", "print_unit", "step_of", "work_group"]

WORK_GROUP = "where the work runs"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each option's default, written the way one would type it (none shown when unset)."""

    def _get_help_string(self, action):
        default = action.default
        if (default is None or default is False or default == () or default is argparse.SUPPRESS
                or action.required or not action.option_strings or action.help is None):
            return action.help
        shown = " ".join(map(str, default)) if isinstance(default, (tuple, list)) else default
        return f"{action.help} (default: {shown})"


def _value(config, path: tuple[str, ...]):
    for name in path:
        config = getattr(config, name)
    return config


def _argparse_type(field: dataclasses.Field):
    base = str(field.type).split("|")[0].strip()
    return {"int": int, "float": float}.get(base)


class _AppendToTuple(argparse.Action):
    """A repeatable option (``--track A --track B``) with a tuple default: each use appends to a new list."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or ()), values])


def _add_one(target, path: tuple[str, ...], field: dataclasses.Field, meta: dict, default) -> None:
    kw = dict(meta["cli"])
    if kw.pop("negatable", False):
        kw["action"] = argparse.BooleanOptionalAction
    elif isinstance(default, bool) and "action" not in kw:
        kw["action"] = "store_true"
    elif "action" not in kw and "type" not in kw and "nargs" not in kw and _argparse_type(field) is not None:
        kw["type"] = _argparse_type(field)
    if kw.get("action") == "append":
        kw["action"] = _AppendToTuple  # a repeatable option whose default is a tuple (argparse's appends to it)
    flags = meta["flags"] or (option_name(field.name),)
    target.add_argument(*flags, dest=path[-1], default=default, help=meta["help"], **kw)


def add_config_arguments(parser: argparse.ArgumentParser, config, descriptions: dict | None = None) -> dict:
    """Add an option for every declared field of ``config`` (a default configuration instance).

    Parameters
    ----------
    parser : argparse.ArgumentParser
    config : dataclass instance
        The command's configuration with its defaults (e.g. ``BuildConfig()``); each option's
        default is the value it holds.
    descriptions : dict, optional
        Descriptions of argument groups, by title. Groups are made as options name them, in
        the order they first appear.

    Returns
    -------
    dict
        The argument groups by title.
    """
    groups, descriptions = {}, descriptions or {}
    for path, field, meta in iter_options(config):
        title = meta["group"]
        if title is not None and title not in groups:
            groups[title] = parser.add_argument_group(title, descriptions.get(title))
        _add_one(parser if title is None else groups[title], path, field, meta, _value(config, path))
    return groups


def _rebuild(config, changes: dict):
    own, parts = {}, {}
    for path, value in changes.items():
        if len(path) == 1:
            own[path[0]] = value
        else:
            parts.setdefault(path[0], {})[path[1:]] = value
    for name, sub in parts.items():
        own[name] = _rebuild(getattr(config, name), sub)
    return dataclasses.replace(config, **own)


def config_from_args(config, args: argparse.Namespace):
    """The configuration of parsed arguments: ``config`` (the defaults) with every option as given.

    Values given on the command line go through their option's ``parse``; the dataclasses'
    checks run as the configuration is made (one :class:`~fastbuild.errors.FastbuildError`
    naming the option for a bad value).
    """
    changes = {}
    for path, _field, meta in iter_options(config):
        default = _value(config, path)
        value = getattr(args, path[-1])
        if value is not default and meta["parse"] is not None:
            value = meta["parse"](value)
        changes[path] = value
    return _rebuild(config, changes)


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """``-v`` / ``--verbose`` as :class:`~fastbuild.options.RunOptions` declares it (commands without a plan)."""
    run = RunOptions()
    for path, field, meta in iter_options(run):
        if field.name == "verbose":
            _add_one(parser, path, field, meta, run.verbose)


def add_step_args(parser: argparse.ArgumentParser, groups: dict, what: str) -> None:
    """``--plan-only`` / ``--unit J`` / ``--finalise``: one step of the run protocol (job arrays)."""
    e = groups.get(WORK_GROUP) or parser.add_argument_group(WORK_GROUP)
    j = e.add_mutually_exclusive_group()
    j.add_argument("--plan-only", action="store_true",
                   help=f"write the {what}'s plan and print its number of units N, run nothing (job arrays: then "
                        "run --unit 1..N with the same options, then --finalise)")
    j.add_argument("--unit", type=int, metavar="J", help="run only unit J (1..N) of the plan made by --plan-only")
    j.add_argument("--finalise", "--finalize", action="store_true",
                   help="check every planned unit is finished and publish the result (refuses, naming missing units)")


def work_group(what: str) -> dict:
    """The description of the "where the work runs" group, for :func:`add_config_arguments`."""
    return {WORK_GROUP: f"The {what} is planned as fixed work units; every way of running them gives identical "
                        "output. Default: units one after another in this process."}


def step_of(args) -> str:
    """Which protocol step the arguments ask for: 'plan', 'unit', 'finalise' or 'run' (all three)."""
    if args.plan_only:
        return "plan"
    if args.unit is not None:
        return "unit"
    return "finalise" if args.finalise else "run"


def executor_of(run, guard_dir=None):
    """The executor of a configuration's :class:`~fastbuild.options.RunOptions` (``--jobs`` or Dask)."""
    from fastbuild.work import make_executor

    return make_executor(run.jobs, dask_scheduler=run.dask_scheduler, scheduler_file=run.scheduler_file,
                         guard_dir=guard_dir, use_env=True)


def print_plan(info: dict, what: str) -> None:
    """The one line of ``--plan-only``."""
    print(f"plan: {info['units']} units ({info['genes']} {what}) in {info['plan']}; "
          f"run each with --unit J (J = 1..{info['units']}), then --finalise")


def print_unit(info: dict, detail: str) -> None:
    """The one line of ``--unit J``."""
    state = "already finished" if info["already_finished"] else "done"
    print(f"unit {info['unit']} of {info['units']} {state}: {detail}")

