"""The ``torchbasics`` command line: one subcommand per job, errors as one clear line.

Each command group lives in its own module with a ``register(subparsers)`` function; heavy
imports (torch, matplotlib) happen inside the handlers, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from torchbasics import __version__
from torchbasics.cli import compare as compare_commands
from torchbasics.cli import data as data_commands
from torchbasics.cli import evaluate as evaluate_commands
from torchbasics.cli import predict as predict_commands
from torchbasics.cli import train as train_commands
from torchbasics.errors import TorchbasicsError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

DESCRIPTION = """\
The foundational deep-learning models in PyTorch, done properly.

Every command has its own --help. Data sets are found on a search path (see
`torchbasics data info --help`) or downloaded where there is internet."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command registered."""
    parser = argparse.ArgumentParser(
        prog="torchbasics", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"torchbasics {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of an error (default: off)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    data_commands.register(commands)
    train_commands.register(commands)
    evaluate_commands.register(commands)
    compare_commands.register(commands)
    predict_commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except TorchbasicsError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"torchbasics: error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("torchbasics: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
