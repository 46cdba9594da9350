"""Command line: ``fastbuild prepare | build | predict | validate``.

:func:`get_parser` builds the whole parser from :mod:`fastbuild.commands` (argparse-manpage
reads it to make the man page);
:func:`main` runs one command and turns user errors into one line and exit status 2, Ctrl-C into
one line and status 130, and SIGTERM (a scheduler's walltime, ``timeout``) into one line and
status 143; both stop the worker processes and keep the finished units.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import os
import signal
import sys
import threading

from fastbuild._version import __version__
from fastbuild.commands import COMMANDS
from fastbuild.errors import FastbuildError, Terminated

log = logging.getLogger("fastbuild")

DESCRIPTION = """\
Build position-centric splice-site training datasets for meta-models that learn from a base
model's (SpliceAI's) mistakes: one row per nucleotide, labelled donor/acceptor/neither and
TP/FP/FN/TN, with k-mer counts, distances, base-model score context and gene features.
Coordinates are 1-based genomic positions; splice sites sit on the exon-side base (SpliceAI's
convention)."""


def get_parser() -> argparse.ArgumentParser:
    """The full ``fastbuild`` argument parser (also read by argparse-manpage)."""
    parser = argparse.ArgumentParser(prog="fastbuild", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fastbuild {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="fastbuild: %(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("fastbuild").setLevel(level)


@contextlib.contextmanager
def sigterm_raises():
    """While the block runs, SIGTERM raises :class:`~fastbuild.errors.Terminated` in the main thread,
    and Ctrl-C :class:`KeyboardInterrupt`, never inside the thread machinery.

    The first stop signal raises where raising is safe (:class:`fastbuild.work.signals.StopRequest`:
    not between a lock's release and its re-acquisition in ``threading``); a second SIGTERM raises
    nothing (it must not interrupt the cleanup the first started); a second Ctrl-C raises at once,
    wherever the main thread is (a user insisting). Ctrl-C is taken only from Python's default
    handler. The previous handlers are restored afterwards. Does nothing outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():  # signals cannot be handled here
        yield
        return
    from fastbuild.work import signals

    first = []

    def stop():
        raise Terminated() if first[0] == signal.SIGTERM else KeyboardInterrupt()

    request = signals.StopRequest(stop)

    @signals.handler
    def handler(signum, frame):
        if not first:
            first.append(signum)
            request.request(frame)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt()

    request.install()
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, handler)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        for signum, was in previous.items():  # first: no new request once SIGALRM is given back
            signal.signal(signum, signal.SIG_DFL if was is None else was)
        request.uninstall()


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    parser = get_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _setup_logging(getattr(args, "verbose", 0))
    try:
        with sigterm_raises():
            return args.func(args)
    except FastbuildError as exc:
        print(f"fastbuild: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print("fastbuild: terminated (SIGTERM); rerun the same command to resume", file=sys.stderr)
        return Terminated.exit_code
    except KeyboardInterrupt:
        print("fastbuild: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


def _observed() -> bool:
    """Whether a profiler, tracer or ``sys.monitoring`` tool (coverage) watches this process."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(monitoring.get_tool(i) is not None for i in range(6))


def run() -> None:
    """The ``fastbuild`` console script and ``python -m fastbuild``: :func:`main`, then exit.

    When the command leaves no other Python thread running, the exit handlers run and the process
    ends with ``os._exit`` instead of tearing its modules down one by one: ~0.15 s less per
    command (numba, llvmlite, pyarrow and polars). Everything a command writes is closed, fsynced
    and renamed before :func:`main` returns. With threads still alive, under a profiler, tracer
    or coverage tool (which write their results after the program ends), with ``python -i``, or
    when flushing the output fails, the normal exit is kept.
    """
    code = main()
    if threading.active_count() == 1 and not _observed() and not sys.flags.inspect:
        atexit._run_exitfuncs()  # logging.shutdown, multiprocessing's and weakref.finalize's handlers
        try:
            for stream in (sys.stdout, sys.stderr):  # None when the stream was closed at start (>&-)
                if stream is not None:
                    stream.flush()
        except Exception:  # a closed or broken pipe...: the normal exit handles and reports it
            raise SystemExit(code) from None
        os._exit(code if isinstance(code, int) else 1)
    raise SystemExit(code)
