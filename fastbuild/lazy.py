"""Public names of a package imported on first use (PEP 562), for packages whose modules are heavy.

A package lists where each public name lives and gets its module ``__getattr__`` and ``__dir__``::

    __getattr__, __dir__ = lazy_exports(__name__, {"build_dataset": "engine", ...})

so that importing the package (for a parser, a configuration, ``--help``) costs nothing until a
name is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: dict[str, str]) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package`` whose public ``name`` lives in ``package.where[name]``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    where : dict
        Public name -> the submodule (relative to ``package``) that defines it.

    Returns
    -------
    (callable, callable)
        The module-level ``__getattr__`` and ``__dir__`` to assign in the package's ``__init__``.
    """

    def __getattr__(name: str):
        if name in where:
            return getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*importlib.import_module(package).__dict__, *where})

    return __getattr__, __dir__
