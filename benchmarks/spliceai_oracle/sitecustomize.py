"""Shim for the SpliceAI oracle's environment: numpy 2 without binary ``numpy.fromstring``.

numpy 2 removed the binary mode of ``numpy.fromstring`` (``sep=''``); code written for numpy 1
that still calls it fails. Python imports this module at start-up when its folder is on
``PYTHONPATH``; it wraps ``numpy.fromstring`` so that binary mode reads the bytes through
``numpy.frombuffer`` (a copy, so the result is writable as before) and every text mode call
goes to the original function. Used only by the oracle harness (benchmarks/spliceai_oracle).
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import numpy as _np
except ImportError:  # pragma: no cover - an environment without numpy needs no shim
    _np = None

if _np is not None and not getattr(_np.fromstring, "_oracle_shim", False):
    _original = _np.fromstring

    def fromstring(string, dtype=float, count=-1, *, sep="", like=None):
        """``numpy.fromstring`` with numpy 1's binary mode (``sep=''``) restored."""
        if sep == "":
            data = string.encode("latin-1") if isinstance(string, str) else bytes(string)
            return _np.frombuffer(data, dtype=dtype, count=count).copy()
        if like is None:
            return _original(string, dtype=dtype, count=count, sep=sep)
        return _original(string, dtype=dtype, count=count, sep=sep, like=like)

    fromstring._oracle_shim = True
    _np.fromstring = fromstring
