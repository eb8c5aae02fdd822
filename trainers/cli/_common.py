"""What every `tfgvae-*` command shares: error handling and readable output."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app, flags  # noqa: E402

from tf_graphvae._quiet import import_tensorflow_quietly  # noqa: E402

flags.DEFINE_bool("verbose", False, "Show full tracebacks for errors, and TensorFlow's INFO logs.")


def validator(check):
    """An absl flag validator from a check that raises a ValueError (None passes)."""

    def validate(value) -> bool:
        try:
            if value is not None:
                check(value)
        except ValueError as error:
            raise flags.ValidationError(str(error)) from None
        return True

    return validate


USAGE_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, FileExistsError)


HELP_FLAGS = ("-h", "--help", "-help", "--helpshort", "-?")

# What a command says when Ctrl-C stops it: a command that knows more (the training
# command: the epoch) sets "message" while it runs.
INTERRUPTED: dict[str, str] = {}


def command_help(prog: str, doc: str | None) -> str:
    """The command's own flags (every `tf_graphvae` module's), each with help and default."""
    lines = [f"usage: {prog} [flags]", ""]
    if doc:
        lines += [doc.strip(), ""]
    by_module = flags.FLAGS.flags_by_module_dict()
    for module in sorted(by_module):
        if not module.startswith("tf_graphvae"):
            continue
        for flag in sorted(by_module[module], key=lambda f: f.name):
            default = flag.default_as_str if flag.default is not None else "None"
            lines.append(f"  --{flag.name}: {flag.help}")
            lines.append(f"      (default: {default})")
    lines += ["", "--helpfull lists absl's own flags too."]
    return "\n".join(lines)


def _parse_flags(argv: list[str], doc: str | None = None) -> list[str]:
    """absl's parser, except that a bad flag is one line on stderr and exit status 2, and
    `--help` lists the command's own flags."""
    prog = os.path.basename(argv[0])
    if any(arg.startswith("--version=") for arg in argv[1:]):
        # --version is the package's version on every command; an export's is its own flag.
        print(f"{prog}: error: --version takes no value (it prints the package's version); "
              "the version an export writes is --export_version.", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    if "--version" in argv[1:]:
        from importlib.metadata import version

        print(f"{prog} (tf-graphvae) {version('tf-graphvae')}")
        sys.exit(0)
    if any(arg in HELP_FLAGS for arg in argv[1:]):
        print(command_help(prog, doc))
        sys.exit(0)
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        first = str(error).splitlines()[0]  # absl lists every failed validator; one suffices
        print(f"{prog}: error: {first}", file=sys.stderr)
        sys.exit(2)


def run_main(
    main: Callable[[list[str]], None], before_tensorflow: Callable[[], None] | None = None
) -> None:
    """Runs an absl `main`; bad input is one line on stderr and exit status 2.

    Flags are parsed and checked before TensorFlow is imported, and so are the checks of
    `before_tensorflow` (missing, busy or foreign folders, a missing data folder): a bad
    flag or folder is answered in a fraction of a second, not after TensorFlow's 10-20 s
    start; `main` then imports what it needs.
    """
    doc = sys.modules[main.__module__].__doc__

    def guarded(argv):
        try:
            if before_tensorflow is not None:
                before_tensorflow()
            import_tensorflow_quietly()
            main(argv)
        except KeyboardInterrupt:
            if flags.FLAGS.verbose:
                raise
            # Results are written under temporary names and renamed into place, and runs
            # checkpoint every epoch: what was complete before Ctrl-C is intact.
            message = INTERRUPTED.get("message") or "interrupted; run the same command again."
            print(f"{os.path.basename(argv[0])}: {message}", file=sys.stderr)
            sys.exit(130)
        except USAGE_ERRORS as error:
            if flags.FLAGS.verbose:
                raise
            print(f"{os.path.basename(argv[0])}: error: {error}", file=sys.stderr)
            sys.exit(2)
        except OSError as error:
            if error.errno != errno.ENOSPC or flags.FLAGS.verbose:
                raise
            # Every result is written under a temporary name and renamed into place, so
            # the files written before are intact.
            where = f" writing {error.filename}" if error.filename else ""
            print(
                f"{os.path.basename(argv[0])}: error: no space left on the device{where}; "
                "the earlier files are intact, free some space and run again to resume.",
                file=sys.stderr,
            )
            sys.exit(1)

    app.run(guarded, flags_parser=lambda argv: _parse_flags(argv, doc))


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


def check_data_dir(data_dir: str | None) -> None:
    """Refuses a `--data_dir` that is not a folder (the data module, which needs
    TensorFlow, says later which files it must hold)."""
    if data_dir is not None and not os.path.isdir(os.path.expanduser(data_dir)):
        raise FileNotFoundError(f"data_dir {data_dir!r} does not exist or is not a directory.")


def check_trained_run(folder) -> None:
    """Refuses a run folder that a training holds or that holds no model, and a damaged
    `config.json` (with what to do about it), before TensorFlow starts."""
    folder.require_idle()
    folder.require_model()
    try:
        folder.read_config()
    except ValueError as error:
        raise ValueError(
            f"{error}; restore it from a copy, or rerun the training with --model_dir="
            f"{folder.path} to write it again."
        ) from None
