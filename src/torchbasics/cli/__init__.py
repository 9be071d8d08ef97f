"""The ``torchbasics`` command line: one subcommand per job, errors as one clear line.

Each command group lives in its own module with a ``register(subparsers)`` function; heavy
imports (torch, matplotlib) happen inside the handlers, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from torchbasics import __version__
from torchbasics.cli import compare as compare_commands
from torchbasics.cli import data as data_commands
from torchbasics.cli import doctor as doctor_commands
from torchbasics.cli import evaluate as evaluate_commands
from torchbasics.cli import explain as explain_commands
from torchbasics.cli import export as export_commands
from torchbasics.cli import lr_find as lr_find_commands
from torchbasics.cli import notebooks as notebooks_commands
from torchbasics.cli import predict as predict_commands
from torchbasics.cli import serve as serve_commands
from torchbasics.cli import train as train_commands
from torchbasics.cli import tune as tune_commands
from torchbasics.cli.exit_codes import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED
from torchbasics.errors import TorchbasicsError, closest

DESCRIPTION = """\
The foundational deep-learning models in PyTorch, done properly.

Every command has its own --help. Data sets are found on a search path (see
`torchbasics data info --help`) or downloaded where there is internet."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line like every other error (not usage + message).

    Args:
        populate: adds the parser's arguments the first time it is used (to parse or to
            show ``--help``). The training flags are made from the settings' declarations,
            which need PyTorch; building them only for the command that uses them keeps
            ``torchbasics --help`` and the data commands fast.
    """

    def __init__(self, *args: Any,
                 populate: Callable[[argparse.ArgumentParser], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._populate = populate

    def ready(self) -> Parser:
        """This parser with its arguments added (once); for code that reads them, such as
        the documentation's command-line reference."""
        if self._populate is not None:
            populate, self._populate = self._populate, None
            populate(self)
        return self

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self.ready()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self.ready()
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        fix = f"see `{self.prog} --help`"
        # argparse (before 3.12) suggests nothing for a mistyped choice; name the closest.
        choice = re.fullmatch(r"(.*)invalid choice: '(.*)' \(choose from (.*)\)", message)
        if choice:
            prefix, given, listed = choice.groups()
            message = f"{prefix}invalid choice '{given}'"
            fix = closest(given, re.findall(r"'([^']*)'", listed))
        raise TorchbasicsError(message, fix=fix)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command registered (subparsers are Parsers too)."""
    parser = Parser(
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
    explain_commands.register(commands)
    compare_commands.register(commands)
    tune_commands.register(commands)
    lr_find_commands.register(commands)
    predict_commands.register(commands)
    export_commands.register(commands)
    notebooks_commands.register(commands)
    doctor_commands.register(commands)
    serve_commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # here, so that a closed pipe is caught below and not at exit
        return code
    except TorchbasicsError as exc:
        if debug:
            traceback.print_exc()
        print(f"torchbasics: error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:  # a TrainingInterrupted says how to resume
        if debug:
            traceback.print_exc()
        print(f"torchbasics: {exc or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away, e.g. `torchbasics models | head -3`
        # Point stdout at /dev/null so that flushing it at exit does not fail once more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
