"""The ``rta`` command line: one module per command group, each registering its
own subcommands and flags."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rta.config import ConfigError
from streams.cli import acd, api, bench, core, engine, history, wfm

GROUPS = (core, engine, history, wfm, acd, api, bench)  # in the order of `rta --help`


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rta", description="Real-time adherence engine")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        command = " ".join(filter(None, (args.command, getattr(args, "schedules_command", None))))
        print(f"rta {command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
