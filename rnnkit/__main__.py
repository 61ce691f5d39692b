"""``python -m rnnkit``: the ``rnnkit`` command (see :mod:`rnnkit.cli`)."""

import sys

from rnnkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
