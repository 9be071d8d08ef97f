"""``python -m torchbasics`` runs the command line."""

import sys

from torchbasics.cli import main

if __name__ == "__main__":
    sys.exit(main())
