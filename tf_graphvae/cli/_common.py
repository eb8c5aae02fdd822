"""What every `tfgvae-*` command shares: error handling and readable output."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app, flags  # noqa: E402

flags.DEFINE_bool("verbose", False, "Show full tracebacks for errors.")

USAGE_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, FileExistsError)


def _parse_flags(argv: list[str]) -> list[str]:
    """absl's parser, except that a bad flag is one line on stderr and exit status 2."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        prog = os.path.basename(argv[0])
        print(f"{prog}: error: {error}", file=sys.stderr)
        sys.exit(2)


def run_main(main: Callable[[list[str]], None]) -> None:
    """Runs an absl `main`; bad input is one line on stderr and exit status 2."""

    def guarded(argv):
        try:
            main(argv)
        except USAGE_ERRORS as error:
            if flags.FLAGS.verbose:
                raise
            print(f"{os.path.basename(argv[0])}: error: {error}", file=sys.stderr)
            sys.exit(2)

    app.run(guarded, flags_parser=_parse_flags)


def format_matrix(matrix, row_label: str = "parent", col_label: str = "child") -> str:
    """A readable `[N, N]` edge-probability table; `.` marks impossible edges (i <= j)."""
    n = len(matrix)
    width = 6
    lines = [f"{row_label} \\ {col_label}".ljust(16) + "".join(f"{j:>{width}d}" for j in range(n))]
    for i in range(n):
        cells = "".join(
            f"{matrix[i][j]:>{width}.2f}" if i > j else f"{'.':>{width}}" for j in range(n)
        )
        lines.append(f"{i:>15d} " + cells)
    return "\n".join(lines)
