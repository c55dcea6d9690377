"""``python -m sbkcard`` runs the command line."""

import sys

from sbkcard.cli import main

if __name__ == "__main__":
    sys.exit(main())
