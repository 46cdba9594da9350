"""Options declared once: a configuration field carries its flag, help text, default and check.

Every option of a command is a field of a frozen configuration dataclass
(:class:`~fastbuild.builder.config.BuildConfig`, :class:`~fastbuild.basemodel.config.PredictConfig`
and the parts they share: :class:`~fastbuild.reference.InputSpec`,
:class:`~fastbuild.selection.SelectionSpec`, :class:`RunOptions`), declared with :func:`option`::

    batch_size: int = option(1000, "genes per batch file", group="running", check=positive)

Everything else derives from that one declaration: the command-line parser
(:func:`fastbuild.commands.options.add_config_arguments`), the configuration built from parsed
arguments, the documentation (``docs/cli.md`` is generated from the parsers) and the checks run
by :func:`check_fields` in each dataclass's ``__post_init__``. A field without help text is not
an option (it is internal, or a nested part).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass, fields
from typing import Any

from fastbuild.checks import choice, option_name, positive

__all__ = ["RunOptions", "check_fields", "iter_options", "option", "option_name"]


def option(default: Any = MISSING, help: str = "", *, default_factory: Callable[[], Any] | Any = MISSING,
           flags: tuple[str, ...] = (), group: str | None = None, check: Callable | None = None,
           parse: Callable | None = None, choices: tuple | None = None, cli: dict | None = None,
           command_line: bool = True, overrides: dict | None = None) -> Any:
    """A dataclass field that is also a command-line option.

    Parameters
    ----------
    default, default_factory
        As for :func:`dataclasses.field`; the command line shows and uses the same default.
    help : str
        The option's help text (``--help``, the man page and docs/cli.md).
    flags : tuple of str, optional
        Its flags; default ``--field-name``.
    group : str, optional
        Title of the ``--help`` section it appears in.
    check : callable, optional
        ``check(field_name, value)``, raising :class:`~fastbuild.errors.FastbuildError` for a bad
        value; run by :func:`check_fields` (only on non-None values).
    parse : callable, optional
        Turns what argparse gives (strings, or a list for ``nargs``) into the field's value.
    choices : tuple, optional
        The allowed values: the parser offers them and the check refuses any other.
    cli : dict, optional
        Extra :meth:`argparse.ArgumentParser.add_argument` keywords (``choices``, ``nargs``,
        ``metavar``, ``action``, ``required``).
    command_line : bool
        False for a field of the library API only (no flag).
    overrides : dict, optional
        For a nested part: per-option changes of its options' declarations in this command,
        ``{"subset_policy": {"choices": (...)}}``.
    """
    if choices is not None:
        cli = {**(cli or {}), "choices": tuple(choices)}
        check = check or _one_of(tuple(choices))
    meta = {"help": help, "flags": tuple(flags), "group": group, "check": check, "parse": parse,
            "cli": dict(cli or {}), "command_line": command_line, "overrides": dict(overrides or {})}
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"fastbuild": meta})


def _one_of(allowed: tuple) -> Callable:
    def check(name: str, value) -> None:
        choice(name, value, allowed)

    return check


def declaration(f: dataclasses.Field) -> dict | None:
    """The :func:`option` metadata of a field (None for a plain field)."""
    return f.metadata.get("fastbuild")


def check_fields(obj) -> None:
    """Run the ``check`` of every declared option of ``obj`` (None passes where it is the default).

    Path-like values (``pathlib.Path``) are taken as their strings first, so every configuration
    holds, checks, hashes and writes paths alike however they were given.
    """
    for f in fields(obj):
        meta = declaration(f)
        value = getattr(obj, f.name)
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
            object.__setattr__(obj, f.name, value)  # (configurations are frozen dataclasses)
        if meta and meta["check"] is not None and not (value is None and f.default is None):
            meta["check"](f.name, value)


def iter_options(instance, overrides: dict | None = None) -> Iterator[tuple[tuple[str, ...], dataclasses.Field, dict]]:
    """Every command-line option of a configuration instance, nested parts included.

    Yields ``(path, field, declaration)`` where ``path`` names the field from the top
    (``("selection", "n_genes")``) and the declaration has this command's overrides applied.
    """
    overrides = overrides or {}
    for f in fields(instance):
        meta = declaration(f)
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value):
            nested = {**(meta or {}).get("overrides", {})}
            for path, sub, sub_meta in iter_options(value, nested):
                yield (f.name, *path), sub, sub_meta
        elif meta and meta["command_line"] and meta["help"]:
            yield (f.name,), f, {**meta, **overrides.get(f.name, {})}


def replace_flat(config, options: dict, what: str):
    """A copy of ``config`` with options given by flat name (``n_genes``, ``jobs``), each routed to its part.

    Raises
    ------
    TypeError
        For a name that is no option of the configuration (``unknown build option 'x'``).
    """
    own = {f.name for f in fields(config)}
    part_of = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            part_of.update({sub.name: f.name for sub in fields(value)})
    direct, parts = {}, {}
    for key, value in options.items():
        if key in part_of and key not in own:
            parts.setdefault(part_of[key], {})[key] = value
        elif key in own and key not in {p for p in part_of.values()}:
            direct[key] = value
        else:
            raise TypeError(f"unknown {what} option {key!r}")
    for name, changes in parts.items():
        direct[name] = dataclasses.replace(getattr(config, name), **changes)
    return dataclasses.replace(config, **direct) if direct else config


def to_flat_dict(config) -> dict:
    """Every option of ``config`` by flat name (nested parts merged in), as the Python values."""
    flat = {}
    for f in fields(config):
        value = getattr(config, f.name)
        flat.update(dataclasses.asdict(value) if dataclasses.is_dataclass(value) else {f.name: value})
    return flat


@dataclass(frozen=True)
class RunOptions:
    """How a job runs, never what it computes (not part of any configuration hash).

    Shared by every command that runs a plan of work units (build, predict).
    """

    jobs: int = option(1, "local worker processes running units in parallel", group="where the work runs",
                       check=positive)
    dask_scheduler: str | None = option(
        None, "run units on the Dask cluster at this scheduler address (started by you, e.g. with dask-jobqueue); "
              "default: $DASK_SCHEDULER_ADDRESS when set; needs fastbuild-splice[dask]",
        group="where the work runs", cli={"metavar": "ADDRESS"})
    scheduler_file: str | None = option(None, "like --dask-scheduler, from a Dask scheduler file",
                                        group="where the work runs", cli={"metavar": "FILE"})
    progress: bool = option(True, "show progress on standard error", group="running", cli={"negatable": True})
    verbose: int = option(0, "more log output (-v: info, -vv: debug)", flags=("-v", "--verbose"), group="running",
                          cli={"action": "count"})

    def __post_init__(self):
        check_fields(self)
