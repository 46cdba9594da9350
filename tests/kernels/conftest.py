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


def pytest_collection_modifyitems(items):
    """Under NUMBA_DISABLE_JIT=1 the kernels' uint64 hash arithmetic wraps in numpy scalars, as
    it does compiled; numpy warns about it there, and only there, so the warning is silenced."""
    from fastbuild_kernels import JIT_DISABLED

    if not JIT_DISABLED:
        return
    import pytest

    for item in items:
        if _HERE in pathlib.Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"))
