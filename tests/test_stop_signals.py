"""Stop signals raise only outside the thread machinery (fastbuild.work.signals).

A SIGTERM or Ctrl-C raised inside ``threading`` (between a Condition's release of its lock and
the ``try`` that takes it back) ended a ``--jobs 2`` build with ``RuntimeError: release unlocked
lock``, and inside a writer's ``Thread.start`` left a temporary file behind (about 1 in 40
SIGTERMs). These tests send real signals to this process while its main thread waits in that
machinery.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import Future

import pytest

from fastbuild.cli import sigterm_raises
from fastbuild.errors import Terminated
from fastbuild.work import signals

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer (POSIX)")


@pytest.fixture(autouse=True)
def _ctrl_c_as_in_a_terminal():
    """Python's own Ctrl-C handler for the test, as a command started from a terminal has it: a
    process started in the background by a shell without job control (``cmd &`` in a script)
    inherits SIGINT ignored, and Python then leaves it ignored (so does ``sigterm_raises``)."""
    was = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, was)


def _later(seconds: float, fn) -> threading.Thread:
    t = threading.Thread(target=lambda: (time.sleep(seconds), fn()), daemon=True)
    t.start()
    return t


def _innermost_file(exc: BaseException) -> str:
    """The file of the code the signal handler interrupted (the handler's own frames left out)."""
    handler = (os.path.abspath(signals.__file__), os.path.abspath(sys.modules["fastbuild.cli"].__file__))
    frames = traceback.extract_tb(exc.__traceback__)
    return [f.filename for f in frames if os.path.abspath(f.filename) not in handler][-1]


@pytest.mark.parametrize("signum, expected", [(signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)])
def test_a_stop_signal_during_a_future_wait_raises_after_the_wait(signum, expected):
    fut: Future = Future()
    _later(0.1, lambda: os.kill(os.getpid(), signum))  # while the main thread waits below
    _later(0.6, lambda: fut.set_result(7))
    t0 = time.monotonic()
    with pytest.raises(expected) as info, sigterm_raises():
        got = fut.result()  # a write in flight, say: must not be broken into
        time.sleep(5)  # ordinary code: the deferred stop lands here
    elapsed = time.monotonic() - t0
    assert got == 7 and 0.55 < elapsed < 3, elapsed
    assert _innermost_file(info.value) == __file__, "raised inside the thread machinery"
    cond = fut._condition  # the future's lock was released, as after any wait
    assert cond.acquire(blocking=False)
    cond.release()


@pytest.mark.skipif(sys.gettrace() is not None, reason="a tracer (coverage, a debugger) holds sys.settrace: "
                    "stops are found by polling only")
def test_the_stop_lands_in_the_caller_as_soon_as_the_wait_returns():
    """A harvest loop spends nearly all its time inside the machinery: polling alone would rarely
    find the main thread outside it; the caller's frame raises at its next line instead."""
    fut: Future = Future()
    # the signal first, the result 0.3 s later, in one thread: the order holds however loaded the machine
    _later(0.1, lambda: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(0.3), fut.set_result(None)))
    calls = 0
    t0 = time.monotonic()
    with pytest.raises(Terminated) as info, sigterm_raises():
        fut.result()
        while True:
            calls += 1
            threading.Event().wait(0.002)
    assert calls == 0 and time.monotonic() - t0 < 1.5
    assert _innermost_file(info.value) == __file__
    assert sys.gettrace() is None  # the trace function used to stop the frame is gone


def test_a_wait_that_never_ends_is_stopped_after_the_grace(monkeypatch):
    monkeypatch.setattr(signals, "MAX_DEFER_S", 0.3)
    _later(0.1, lambda: os.kill(os.getpid(), signal.SIGTERM))
    t0 = time.monotonic()
    with pytest.raises(Terminated), sigterm_raises():
        threading.Event().wait(10)  # a Dask client blocked on a dead scheduler, say
    assert 0.35 < time.monotonic() - t0 < 3


def test_a_signal_in_ordinary_code_raises_at_once_and_handlers_are_restored():
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM)}
    t0 = time.monotonic()
    with pytest.raises(Terminated) as info, sigterm_raises():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert time.monotonic() - t0 < 1 and _innermost_file(info.value) == __file__
    assert {s: signal.getsignal(s) for s in before} == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_second_ctrl_c_raises_at_once_a_second_sigterm_not_at_all():
    with pytest.raises(KeyboardInterrupt), sigterm_raises():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            pass
        fut: Future = Future()
        _later(0.1, lambda: os.kill(os.getpid(), signal.SIGINT))
        fut.result(timeout=5)  # a user pressing Ctrl-C again during the cleanup: not deferred
    with pytest.raises(Terminated), sigterm_raises():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # ignored: the cleanup runs to its end
            time.sleep(0.05)


def test_in_machinery_stops_at_fastbuild_code():
    assert not signals.in_machinery(sys._getframe())
    seen = []

    def probe():
        seen.append(signals.in_machinery(sys._getframe()))

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    assert seen == [True]  # called from threading.Thread.run with no fastbuild code in between
    assert not signals.in_machinery(None)


def test_finalizers_count_as_machinery():
    """A stop raised in a __del__ method or a weak reference's callback would be printed and lost."""
    import weakref

    seen = []

    class Owner:
        def __del__(self):
            seen.append(signals.in_machinery(sys._getframe()))

    Owner()
    other = Owner.__new__(Owner)
    weakref.finalize(other, lambda: seen.append(signals.in_machinery(sys._getframe())))
    del other  # the finaliser's callback (called from weakref.py), then __del__
    assert seen == [True, True, True]


def _as_if_in(path: str, src: str, name: str):
    """A function whose frames report ``path`` as their file (code of that module, for locate)."""
    scope: dict = {"sys": sys, "signals": signals}
    exec(compile(src, path, "exec"), scope)
    return scope[name]


def test_a_handler_frame_is_looked_through():
    """A SIGALRM landing in the SIGTERM handler (itself on top of a lock wait) must see the wait."""
    seen = []
    probe = _as_if_in(signals.__file__, "def probe(seen):\n    seen.append(signals.locate(sys._getframe()))\n",
                      "probe")
    here = sys._getframe()
    threading.Thread(target=probe, args=(seen,)).run()  # run() in this thread: threading.py calls it
    assert seen == [(True, here)]


def test_a_finaliser_further_out_moves_the_raise_to_its_caller():
    """fastbuild code (a pool's close) run by a __del__: raised there, the stop would be dropped."""
    seen = []
    close = _as_if_in(sys.modules["fastbuild.cli"].__file__,
                      "def close(seen):\n    seen.append(signals.locate(sys._getframe()))\n", "close")

    class Owner:
        def __del__(self):
            close(seen)

    here = sys._getframe()
    Owner()
    assert seen == [(True, here)]
    assert signals.locate(here) == (False, None)


def _compile_with_callback(notify) -> None:
    """Compile a tiny LLVM module with llvmlite, whose object cache calls ``notify`` from C through
    ``ctypes`` (as while numba compiles a unit's first kernel)."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    machine = llvm.Target.from_default_triple().create_target_machine()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly("define i32 @f() {\n  ret i32 1\n}"), machine)
    engine.set_object_cache(notify, None)
    engine.finalize_object()  # calls notify back


def test_a_ctypes_callback_moves_the_raise_to_the_caller_of_llvmlite():
    seen = []
    _compile_with_callback(lambda module, buf: seen.append((*signals.locate(sys._getframe()),
                                                            signals.dropped_in(sys._getframe()))))
    assert [(inside, resume.f_code.co_name, dropped) for inside, resume, dropped in seen] == [
        (True, "_compile_with_callback", True)]  # raised once finalize_object returns there
    here = sys._getframe()
    assert signals.locate(here) == (False, None) and not signals.dropped_in(here)


@pytest.mark.parametrize("grace", [2.0, 0.05])
def test_a_sigterm_during_a_ctypes_callback_is_not_lost(monkeypatch, capfd, grace):
    """A worker stopped while numba compiled printed "Exception ignored on calling ctypes callback
    function" and a traceback, and ran its unit to the end. Past the grace too, the stop waits for
    the callback to return (it always does)."""
    monkeypatch.setattr(signals, "MAX_DEFER_S", grace)
    steps = []

    def notify(module, buf):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(20):  # 0.2 s of ordinary code run by the callback: several alarms
            time.sleep(0.01)
        steps.append("callback ended")

    with pytest.raises(Terminated) as info, sigterm_raises():
        _compile_with_callback(notify)
        steps.append("after the compile")
        time.sleep(5)
    assert steps == ["callback ended"]  # raised once the compile returned, before the next line
    assert _innermost_file(info.value) == __file__
    assert "Exception ignored" not in capfd.readouterr().err
