"""Load the naive twins under a unique module name (``kernels_naive``) so that no other
``naive.py`` in the test tree can shadow it."""

import importlib.util
import pathlib
import sys

_HERE = pathlib.Path(__file__).resolve().parent

if "kernels_naive" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("kernels_naive", _HERE / "naive.py")
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["kernels_naive"] = _mod
    _spec.loader.exec_module(_mod)
