"""``gtlocal`` command line. Each module in SUBCOMMAND_MODULES exposes ``add_parser(subparsers)``
that registers its subcommands with ``set_defaults(func=callable(args) -> int)``.
To add a subcommand, write such a module and append its name here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMAND_MODULES: list[str] = [
    "gtlocal.localcloud_cli",  # serve, up, down, status
    "gtlocal.deploy",  # deploy (one project's resources through boto3)
    "gtlocal.runner",  # run-events (the local SQS event-source runner)
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gtlocal", description="The local cloud: moto + Ground Truth emulator."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
