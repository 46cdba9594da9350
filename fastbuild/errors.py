"""User-facing errors.

Every problem caused by the user's input (a missing file, a malformed line, a contig that
matches nothing) is raised as :class:`FastbuildError` with a one-line message that names the
bad input and says what to do. The command line prints it as ``fastbuild: error: ...`` and
exits with status 2; it never shows a traceback for these.
"""


class FastbuildError(Exception):
    """An error in the user's input or environment, reported as one clear line."""

    exit_code = 2
