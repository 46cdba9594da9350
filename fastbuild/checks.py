"""Option checks shared by the configuration dataclasses: each raises one clear
:class:`~fastbuild.errors.FastbuildError` naming the command-line option and the bad value.

Integer options are whole numbers (``bool`` is refused) no larger than :data:`INT64_MAX`, the
width the kernels and the Arrow columns hold; real options are finite numbers (NaN and
infinity are refused: NaN compares false with every bound, and neither fits in JSON).
"""

from __future__ import annotations

import math
import operator

from fastbuild.errors import FastbuildError

#: Default upper bound of integer options (numba kernels and Arrow columns are int64).
INT64_MAX = 2**63 - 1


def option_name(field: str) -> str:
    """``n_genes`` -> ``--n-genes``."""
    return "--" + field.replace("_", "-")


def choice(field: str, value, allowed) -> None:
    """``value`` must be one of ``allowed``."""
    if value not in allowed:
        raise FastbuildError(f"{option_name(field)} {value!r} is not one of {', '.join(allowed)}")


def whole(field: str, value, minimum: int | None = None, maximum: int | None = INT64_MAX, hint: str = "") -> int:
    """``value`` must be a whole number within ``minimum..maximum``.

    Parameters
    ----------
    field : str
        Option name as a Python identifier (``batch_rows``); the message says ``--batch-rows``.
    value : int
        Any integer type (``operator.index``); ``bool`` and floats are refused.
    minimum, maximum : int, optional
        Inclusive bounds; ``None`` for none. ``maximum`` defaults to :data:`INT64_MAX`.
    hint : str, optional
        Appended to the message of a value out of range (e.g. why the limit exists).

    Returns
    -------
    int
        ``value`` as a Python int.

    Raises
    ------
    FastbuildError
        ``--batch-rows must be >= 100, got 1`` and the like.
    """
    name = option_name(field)
    try:
        if isinstance(value, bool):
            raise TypeError
        v = operator.index(value)
    except TypeError:
        raise FastbuildError(f"{name} must be a whole number, got {value!r}") from None
    if minimum is not None and v < minimum:
        raise FastbuildError(f"{name} must be >= {minimum}, got {v}{hint}")
    if maximum is not None and v > maximum:
        raise FastbuildError(f"{name} must be <= {maximum}, got {v}{hint}")
    return v


def positive(field: str, value, maximum: int | None = INT64_MAX, hint: str = "") -> int:
    """``value`` must be a whole number >= 1 (and <= ``maximum``); see :func:`whole`."""
    return whole(field, value, 1, maximum, hint)


def number(field: str, value, minimum: float | None = None, maximum: float | None = None, hint: str = "") -> float:
    """``value`` must be a finite real number within ``minimum..maximum``.

    Parameters
    ----------
    field : str
        Option name as a Python identifier (``easy_ratio``); the message says ``--easy-ratio``.
    value : float
        Anything ``float()`` accepts except ``bool`` and strings.
    minimum, maximum : float, optional
        Inclusive bounds; ``None`` for none.
    hint : str, optional
        Appended to the message (e.g. what to use instead).

    Returns
    -------
    float

    Raises
    ------
    FastbuildError
        ``--easy-ratio must be a finite number >= 0, got nan`` and the like.
    """
    name = option_name(field)
    if minimum is not None and maximum is not None:
        wanted = f"within {minimum:g}..{maximum:g}"
    elif minimum is not None:
        wanted = f"a finite number >= {minimum:g}"
    elif maximum is not None:
        wanted = f"a finite number <= {maximum:g}"
    else:
        wanted = "a finite number"
    try:
        if isinstance(value, (bool, str, bytes)):
            raise TypeError
        v = float(value)
    except (TypeError, ValueError):
        raise FastbuildError(f"{name} must be {wanted}, got {value!r}") from None
    low = minimum is not None and v < minimum
    high = maximum is not None and v > maximum
    if not math.isfinite(v) or low or high:
        raise FastbuildError(f"{name} must be {wanted}, got {v}{hint}")
    return v


def probability(field: str, value) -> float:
    """``value`` must be a probability, within 0..1 (NaN is refused); see :func:`number`."""
    return number(field, value, 0.0, 1.0)
