"""The ``bfactor`` command (``python -m bfactor`` or the ``bfactor`` console script).

It runs the same code as the Rust binary (``bfactor_cli::run_from``): the same
subcommands, output and exit statuses.
"""

import signal
import sys

from ._bfactor import _main


def main() -> int:
    """Runs the command on ``sys.argv`` and returns its exit status."""
    # Ctrl-C stops the command as it stops the binary (Python's handler would
    # wait for the Rust code to return).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.stdout.flush()
    return _main(["bfactor", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
