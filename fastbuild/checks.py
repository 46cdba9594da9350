"""Option checks shared by the configuration dataclasses: each raises one clear
:class:`~fastbuild.errors.FastbuildError` naming the command-line option and the bad value."""

from __future__ import annotations

from fastbuild.errors import FastbuildError


def option_name(field: str) -> str:
    """``n_genes`` -> ``--n-genes``."""
    return "--" + field.replace("_", "-")


def choice(field: str, value, allowed) -> None:
    """``value`` must be one of ``allowed``."""
    if value not in allowed:
        raise FastbuildError(f"{option_name(field)} {value!r} is not one of {', '.join(allowed)}")


def positive(field: str, value) -> None:
    """``value`` must be a whole number >= 1."""
    if int(value) < 1:
        raise FastbuildError(f"{option_name(field)} must be >= 1, got {value}")


def unit(field: str, value) -> None:
    """``value`` must be a probability, within 0..1."""
    if not 0.0 <= float(value) <= 1.0:
        raise FastbuildError(f"{option_name(field)} must be within 0..1, got {value}")
