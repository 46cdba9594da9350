"""Stop signals (Ctrl-C, SIGTERM) raised only where raising cannot corrupt a lock.

A Python signal handler runs in the main thread between two bytecodes of whatever runs there. An
exception raised inside the standard library's thread machinery (``threading.Condition.wait``
between releasing its lock and the ``try`` that takes it back, ``Thread.start`` before the thread
is registered, a ``concurrent.futures`` waiter, a ``multiprocessing`` queue) leaves a lock
released twice or a thread nobody joins: the command then ends with ``RuntimeError: release
unlocked lock`` instead of one line, or a writer thread outlives the cleanup that should have
waited for it (a temporary file left behind). Both were seen, about once in 40 SIGTERMs, on a
``--jobs 2`` build. Raised in a weak reference's callback or a ``__del__`` method (run by the
garbage collector), or in a function C code calls back through ``ctypes`` (llvmlite's object
cache, while numba compiles a unit's first kernel), the exception is printed with its traceback
and dropped, and the command runs on to its end.

:class:`StopRequest` raises at once when the main thread runs ordinary code. Inside that
machinery it raises in the nearest ordinary frame that called it, as soon as the call returns
there: that frame is given a trace function (``frame.f_trace``, as ``pdb`` does; not while a
tracer such as coverage holds ``sys.settrace``), and ``SIGALRM`` re-checks every
:data:`POLL_S` seconds besides. A wait that never returns (a Dask client blocked on a dead
scheduler) would defer forever, so after :data:`MAX_DEFER_S` the raise happens wherever the main
thread is, as it did before, except inside a finaliser or a callback: those return, and a stop
raised there would be lost.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable

POLL_S = 0.01
MAX_DEFER_S = 2.0

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # fastbuild/
_HERE = os.path.abspath(__file__)
_HANDLERS: set = set()  # code objects of the signal handlers that call StopRequest.request
_MACHINERY_FILES = frozenset(os.path.abspath(m.__file__) for m in (threading, queue))
# weakref callbacks and __del__ methods swallow what they raise ("Exception ignored in"): a stop
# raised there would be lost
_FINALISER_FILES = frozenset({os.path.abspath(weakref.__file__),
                              os.path.abspath(weakref.WeakSet.__init__.__code__.co_filename)})
_MACHINERY_DIRS = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
                        for m in (concurrent.futures, multiprocessing))


def _package_dir(name: str) -> tuple[str, ...]:
    """The folder of the installed package ``name`` (found without importing it); none if absent."""
    spec = importlib.util.find_spec(name)
    return tuple(os.path.abspath(d) + os.sep for d in (spec.submodule_search_locations or [])) if spec else ()


# code C calls back through ctypes: what a callback raises is printed ("Exception ignored on calling
# ctypes callback function") and dropped. llvmlite's object cache calls back while numba compiles.
_CALLBACK_DIRS = _package_dir("llvmlite")


def _finaliser(frame: types.FrameType, name: str) -> bool:
    """A ``__del__`` method, a weak reference's callback run from ``weakref`` or code that C calls
    back through ``ctypes`` (``name``: the frame's file): what they raise is printed and dropped."""
    return frame.f_code.co_name == "__del__" or name in _FINALISER_FILES or name.startswith(_CALLBACK_DIRS)


def dropped_in(frame: types.FrameType | None) -> bool:
    """Whether an exception raised while the main thread runs ``frame`` would be printed and
    dropped: ``frame`` or a frame further out is a finaliser or a ``ctypes`` callback."""
    while frame is not None:
        if _finaliser(frame, os.path.abspath(frame.f_code.co_filename)):
            return True
        frame = frame.f_back
    return False


def _machinery(name: str) -> bool:
    return name in _MACHINERY_FILES or name.startswith(_MACHINERY_DIRS)


def locate(frame: types.FrameType | None) -> tuple[bool, types.FrameType | None]:
    """Where a stop may be raised when the main thread runs ``frame``.

    Returns ``(inside, resume)``: ``inside`` is whether raising in ``frame`` could corrupt a lock
    or be lost; ``resume`` is the nearest frame further out where it can be raised once the call
    returns there (None when ``inside`` is false, or when no such frame exists).

    Raising is unsafe in the standard library's thread or process machinery (``threading``,
    ``queue``, ``concurrent.futures``, ``multiprocessing``) and in code it called with no
    fastbuild frame in between (a unit runs inside ``concurrent.futures.process`` in a worker:
    that outer frame must not make every raise unsafe), and anywhere inside a finaliser
    (``__del__``, a callback run by ``weakref``) or a ``ctypes`` callback (llvmlite's code),
    however far out, whose exception would be dropped: ``resume`` is then the caller of the
    outermost one.
    """
    inside, resume, settled = False, None, False
    while frame is not None:
        name = os.path.abspath(frame.f_code.co_filename)
        if frame.f_code in _HANDLERS or name == _HERE:
            pass  # a stop signal's handler (run on top of the code it interrupted): look through it
        elif _finaliser(frame, name) or (not settled and _machinery(name)):
            inside, resume = True, None
        elif inside and resume is None:
            resume, settled = frame, True
        elif not inside and name.startswith(_PACKAGE):
            settled = True  # fastbuild's own code before any machinery: only a finaliser matters now
        frame = frame.f_back
    return inside, resume


def handler(fn):
    """Mark ``fn`` as a signal handler that may call :meth:`StopRequest.request`: :func:`locate`
    looks through its frame to the code it interrupted (a handler can interrupt another)."""
    _HANDLERS.add(fn.__code__)
    return fn


def in_machinery(frame: types.FrameType | None) -> bool:
    """Whether a stop raised while the main thread runs ``frame`` could corrupt a lock or be lost
    (see :func:`locate`)."""
    return locate(frame)[0]


def _no_trace(frame, event, arg):  # the global trace function while a frame waits to be stopped
    return None


class StopRequest:
    """Turns a stop signal into ``stop()`` called in the main thread where that is safe.

    Parameters
    ----------
    stop : callable
        Called with no argument once the main thread is outside the thread machinery (see
        :func:`locate`), or after :data:`MAX_DEFER_S` seconds whatever it runs bar a finaliser or
        a callback (see :func:`dropped_in`); it raises
        (``Terminated``, ``KeyboardInterrupt``) or ends the process.

    Notes
    -----
    Use :meth:`request` from a signal handler, :meth:`install` / :meth:`uninstall` around the
    time ``SIGALRM`` is this object's. Only the main thread may do either.
    """

    def __init__(self, stop: Callable[[], None]):
        self._stop = stop
        self._since: float | None = None  # when a deferred request was made
        self._previous = None
        self._armed = False  # whether ITIMER_REAL runs for this object
        self._traced: types.FrameType | None = None  # the frame that raises once the call returns

    def install(self) -> None:
        """Take ``SIGALRM`` (the deferred request's timer) for this object."""
        self._previous = signal.signal(signal.SIGALRM, self._on_alarm)

    def uninstall(self) -> None:
        """Cancel a deferred request and give ``SIGALRM`` back."""
        self.cancel()
        signal.signal(signal.SIGALRM, signal.SIG_DFL if self._previous is None else self._previous)

    def cancel(self) -> None:
        """Forget a deferred request (its work ended before it could be stopped)."""
        self._since = None
        self._disarm()
        self._untrace()

    def request(self, frame: types.FrameType | None) -> None:
        """Call ``stop`` now when ``frame`` is ordinary code, else defer it (see the module docstring)."""
        inside, resume = locate(frame)
        if not inside:
            self._deliver()
            return
        self._since = time.monotonic()
        self._defer(resume)

    def _arm(self) -> None:
        self._armed = True
        signal.setitimer(signal.ITIMER_REAL, POLL_S)

    def _disarm(self) -> None:
        if self._armed:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _defer(self, resume: types.FrameType | None) -> None:
        if resume is not None and resume is not self._traced:
            self._untrace()
            if sys.gettrace() is None:  # else a debugger or coverage tool holds it: poll only

                def on_event(f, event, arg):
                    if self._since is not None and f is self._traced:
                        self._deliver()
                    return on_event

                resume.f_trace = on_event
                resume.f_trace_lines = True
                self._traced = resume
                sys.settrace(_no_trace)  # needed for f_trace to be called; new frames stay untraced
        self._arm()  # last: an alarm must not interrupt the set-up above

    def _untrace(self) -> None:
        if self._traced is not None:
            self._traced.f_trace = None
            self._traced = None
            if sys.gettrace() is _no_trace:
                sys.settrace(None)

    def _on_alarm(self, signum, frame) -> None:
        self._armed = False
        if self._since is None:
            return
        inside, resume = locate(frame)
        if not inside or (time.monotonic() - self._since > MAX_DEFER_S and not dropped_in(frame)):
            self._deliver()
            return
        self._defer(resume)

    def _deliver(self) -> None:
        self._since = None
        self._disarm()
        self._untrace()
        self._stop()
