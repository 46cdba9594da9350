"""User-facing errors.

Every problem caused by the user's input (a missing file, a malformed line, a contig that
matches nothing) is raised as :class:`FastbuildError` with a one-line message that names the
bad input and says what to do. The command line prints it as ``fastbuild: error: ...`` and
exits with status 2; it never shows a traceback for these.
"""


class FastbuildError(Exception):
    """An error in the user's input or environment, reported as one clear line."""

    exit_code = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM received (a scheduler's walltime, ``timeout``, ``kill``): stop like Ctrl-C.

    The command line's SIGTERM handler raises it in the main thread; as a
    :class:`KeyboardInterrupt` it runs every Ctrl-C cleanup path (workers stopped, finished units
    kept). The command line prints one line and exits with ``exit_code`` (128 + SIGTERM).
    """

    exit_code = 143
