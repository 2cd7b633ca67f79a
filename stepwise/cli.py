"""The `stepwise` command line. Each command imports what it needs when it runs: `--help` stays fast.

A user's mistake is one line on stderr saying what to fix, exit code 2, no traceback; a closed pipe
(`stepwise registry --json | head`) ends the command quietly.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from stepwise import __version__


def _data_generate(args: argparse.Namespace) -> int:
    from stepwise.console.commands import UsageError
    from stepwise.data import generate_dataset

    if args.rows < 1:
        raise UsageError(f"--rows {args.rows}: generate at least 1 row")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(
            f"--out {args.out} is a file: give a folder to write claims.csv and customers.csv into"
        )
    try:
        paths = generate_dataset(rows=args.rows, seed=args.seed, out_dir=args.out)
    except (ValueError, TypeError, NotADirectoryError) as error:
        raise UsageError(str(error)) from None
    for path in paths:
        print(path)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with stepwise's one-line errors (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stepwise",
        description="Stepwise: the SageMaker fraud-detection pipeline as a Step Functions state machine, "
        "on AWS or on this machine. `stepwise run` runs it here, end to end.",
    )
    parser.add_argument("--version", action="version", version=f"stepwise {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    data = commands.add_parser("data", help="make datasets")
    data_commands = data.add_subparsers(
        dest="data_command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    generate = data_commands.add_parser(
        "generate", help="write claims.csv and customers.csv like the tutorial's"
    )
    generate.add_argument("--rows", type=int, default=5000, help="number of claims (default 5000)")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.add_argument("--out", type=Path, required=True, help="folder to write the two files into")
    generate.set_defaults(handler=_data_generate)

    from stepwise.console import commands as local_commands
    from stepwise.console import serving, stack

    local_commands.add_commands(commands)
    stack.add_commands(commands)
    serving.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from stepwise.console.commands import UsageError

    args = build_parser().parse_args(argv)
    # the streams as they are now: the console writes to these, whatever an in-process Lambda handler
    # does to sys.stdout / sys.stderr while it runs
    args.stdout, args.stderr = sys.stdout, sys.stderr
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"stepwise: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # before or after an execution: nothing to stop
        from stepwise.console.commands import Terminated

        print("stepwise: interrupted", file=sys.stderr)
        return 143 if isinstance(interrupt, Terminated) else 130
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, without a second error while flushing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as error:  # the state folder, the deploy, AWS: errors with a message for the user
        if type(error).__module__.startswith("botocore"):
            from stepwise.console.target import usage_error_of

            usage = usage_error_of(error)
            print(f"stepwise: error: {usage or error}", file=sys.stderr)
            return 2 if usage is not None else 1
        from stepwise.emulator.cloudformation import DeployError
        from stepwise.emulator.store import StateError

        if isinstance(error, (StateError, DeployError)):
            print(f"stepwise: error: {error}", file=sys.stderr)
            return 1
        raise


def entry() -> None:
    """The `stepwise` command: `main`, in a process that ends with the command."""
    from stepwise.console import commands

    commands.PROCESS_EXITS_AFTER_COMMAND = True
    sys.exit(main())


if __name__ == "__main__":
    entry()
