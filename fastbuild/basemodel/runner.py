"""The interface every base-model backend implements, and the helpers the backends share.

A :class:`Runner` is bound to one model (an ensemble of :class:`~fastbuild.basemodel.models.Network`
members) and scores sequences that already carry the model's flanks::

    runner.score_sequence(codes_with_flank) -> float32 [n, 3]   (neither, acceptor, donor)
    runner.close()

Backends (three): :class:`fastbuild.basemodel.forward.NumpyRunner` ("numpy": numpy + numba, exact,
always installed), :class:`fastbuild.basemodel.onnx_backend.OnnxRunner` ("onnx": onnxruntime) and
:class:`fastbuild.basemodel.openvino_backend.OpenVinoRunner` ("openvino": OpenVINO, float32 or
bf16). Each imports this module; the numpy backend and the other two never import each other (the
openvino backend reuses the onnx backend's graph). :func:`fastbuild.basemodel.backends.make_runner`
is the one place that chooses (backend "auto", the default, picks the engine).
"""

from __future__ import annotations

import abc
import inspect
import os
from typing import NamedTuple

import numpy as np

from fastbuild.checks import positive
from fastbuild.errors import FastbuildError

#: Most threads one runner may use (each worker keeps its own scratch buffers).
MAX_THREADS = 1024


def check_threads(threads) -> int | None:
    """Validate a requested thread count (``--threads``).

    Parameters
    ----------
    threads : int or None
        ``None`` means all CPUs this process may use (see :func:`default_threads`).

    Returns
    -------
    int or None
        ``threads`` as an int, or ``None``.

    Raises
    ------
    FastbuildError
        ``--threads must be >= 1, got -1`` for anything but ``None`` or a whole number within
        1..:data:`MAX_THREADS`.
    """
    if threads is None:
        return None
    return positive("threads", threads, MAX_THREADS)


def default_threads() -> int:
    """Number of CPUs this process may use (at least 1).

    Returns
    -------
    int
        The size of the CPU affinity mask where the platform has one, else ``os.cpu_count()``.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def networks_of(model) -> list:
    """The ensemble members of ``model``.

    Parameters
    ----------
    model : Model, Network or iterable of Network

    Returns
    -------
    list of Network
    """
    from fastbuild.basemodel.models import Model, Network

    if isinstance(model, Model):
        return list(model.networks)
    if isinstance(model, Network):
        return [model]
    return list(model)


def check_codes(codes_with_flank, flank: int) -> tuple[np.ndarray, int]:
    """Validate a sequence that carries ``flank`` bases of context on each side.

    Parameters
    ----------
    codes_with_flank : array_like of uint8
        Codes A=0, C=1, G=2, T=3, other=4, of length ``n + 2*flank``.
    flank : int

    Returns
    -------
    codes : numpy.ndarray
        The codes as a C-contiguous uint8 array.
    n : int
        Number of scored positions.

    Raises
    ------
    FastbuildError
        When the codes are not one-dimensional or shorter than both flanks.
    """
    codes = np.ascontiguousarray(codes_with_flank, dtype=np.uint8)
    if codes.ndim != 1:
        raise FastbuildError("sequence codes must be one-dimensional")
    n = codes.shape[0] - 2 * flank
    if n < 0:
        raise FastbuildError(f"sequence shorter than the model's two flanks ({2 * flank} nt)")
    return codes, n


class Edit(NamedTuple):
    """An edit of a reference stream, and the window of the edited stream to score.

    The edited stream is ``ref[:p] + alt + ref[p + ref_len:]``; its rows ``start .. stop - 1``
    (flanks included) are scored, giving ``stop - start - 2*flank`` outputs.
    """

    p: int
    ref_len: int
    alt: np.ndarray
    start: int
    stop: int

    def window(self, ref: np.ndarray) -> np.ndarray:
        """The edited stream's scored window (with its flanks)."""
        edited = np.concatenate([ref[: self.p], np.asarray(self.alt, dtype=ref.dtype), ref[self.p + self.ref_len :]])
        return edited[self.start : self.stop]


class Runner(abc.ABC):
    """A base model bound to a backend.

    Subclasses set ``backend`` (the backend's name), ``networks`` (the ensemble members),
    ``flank`` and ``threads``, and implement :meth:`score_sequence` and :meth:`close`. A runner
    is a context manager that closes itself on exit.

    A ``threads`` argument of the subclass's constructor is checked by :func:`check_threads`
    before that constructor runs (so no thread pool or session is made for a bad count), and so
    is every value assigned to :attr:`threads`.
    """

    backend: str = ""
    networks: list
    flank: int

    def __new__(cls, *args, **kwargs):
        try:
            bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        except TypeError:
            bound = None  # a wrong call: let __init__ raise its own error
        if bound is not None:
            check_threads(bound.arguments.get("threads"))
        return super().__new__(cls)

    @property
    def threads(self) -> int:
        """Threads this runner uses (>= 1)."""
        return self._threads

    @threads.setter
    def threads(self, value) -> None:
        self._threads = positive("threads", value, MAX_THREADS)

    @abc.abstractmethod
    def score_sequence(self, codes_with_flank) -> np.ndarray:
        """Ensemble-averaged scores of a sequence that carries the model's flanks.

        Parameters
        ----------
        codes_with_flank : array_like of uint8
            Codes (A=0, C=1, G=2, T=3, other=4) of length ``n + 2*flank``, in transcript
            orientation. Long inputs are scored in segments internally.

        Returns
        -------
        numpy.ndarray
            float32 ``[n, 3]`` in the model's channel order (neither, acceptor, donor).
        """

    def score_edits(self, references: list, edits: list) -> tuple[list, list]:
        """Scores of reference streams and of edits of them.

        Parameters
        ----------
        references : list of numpy.ndarray
            Codes with the model's flanks, in transcript orientation.
        edits : list of list of Edit
            Per reference, its edits.

        Returns
        -------
        (list, list)
            Each reference's scores (as :meth:`score_sequence`) and, per reference, each edit's
            scores (of its window). This generic version scores every edited window whole with
            :meth:`score_many`; the numpy engine recomputes only what each edit changes.
        """
        windows = [e.window(np.asarray(ref)) for ref, es in zip(references, edits, strict=True) for e in es]
        many = getattr(self, "score_many", None)
        seqs = list(references) + windows
        outs = many(seqs) if many is not None else [self.score_sequence(s) for s in seqs]
        ref_out, rest = outs[: len(references)], iter(outs[len(references) :])
        return ref_out, [[next(rest) for _ in es] for es in edits]

    @abc.abstractmethod
    def close(self) -> None:
        """Release threads and sessions; the runner cannot score afterwards."""

    def is_bound_to(self, model) -> bool:
        """True when this runner runs exactly the members of ``model`` (the same objects)."""
        nets = networks_of(model)
        return len(nets) == len(self.networks) and all(a is b for a, b in zip(nets, self.networks, strict=True))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
