"""The ``rta`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import orjson

from rta.config import ConfigError, TenantsConfig


def load_tenants(path: str | None, default_time_zone: str = "UTC") -> TenantsConfig:
    """The tenants file (TOML); errors name the path and the key."""
    if path is None:
        return TenantsConfig.from_mapping(None, default_time_zone)
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"tenants file not found: {p}")
    return TenantsConfig.from_toml(p.read_text(encoding="utf-8"), default_time_zone, str(p))


def _timezone(value: str) -> str:
    from rta.config import TenantSettings
    try:
        TenantSettings(time_zone=value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"unknown IANA time zone {value!r}") from None
    return value


def cmd_replay(args: argparse.Namespace) -> int:
    from rta.replay import replay_lines

    tenants = load_tenants(args.tenants, args.tenant_timezone)
    path = Path(args.file)
    if args.file != "-" and not path.is_file():
        print(f"rta replay: event log not found: {path}", file=sys.stderr)
        return 2
    with (sys.stdin.buffer if args.file == "-" else path.open("rb")) as fh:
        result = replay_lines(fh, tenants, args.as_of)
    name = "<stdin>" if args.file == "-" else str(path)
    for line, reason in result.rejected:
        print(f"{name}:{line}: rejected: {reason}", file=sys.stderr)
    if result.held:
        print(f"{name}: warning: {result.held} state event(s) of ACD identities that no "
              "schedule message names were not applied", file=sys.stderr)
    option = orjson.OPT_INDENT_2 if args.pretty else 0
    sys.stdout.buffer.write(orjson.dumps(result.summaries, option=option) + b"\n")
    if result.rejected:
        print(f"{name}: {len(result.rejected)} line(s) rejected", file=sys.stderr)
        return 1
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from rta_cli.simulate import CentreSpec, generate

    spec = CentreSpec(agents=args.agents, days=args.days, start=args.start,
                      time_zone=args.time_zone, tenant=args.tenant, seed=args.seed,
                      late_fraction=args.late, duplicate_fraction=args.duplicates,
                      identities_known_late_fraction=args.known_late)
    out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
    with out:
        for record in generate(spec):
            out.write(orjson.dumps(record) + b"\n")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from rta_cli.bench import bench_core

    if args.what == "core":
        return bench_core(agents=args.agents, days=args.days, baseline_agents=args.baseline_agents)
    print(f"rta bench: unknown benchmark {args.what!r}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rta", description="Real-time adherence engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay", help="compute adherence offline from an event log (JSON Lines)")
    p.add_argument("file", help="event log, one {'kind', 'body'} record per line; - for stdin")
    p.add_argument("--tenants", help="tenants file (TOML)")
    p.add_argument("--tenant-timezone", default="UTC", type=_timezone,
                   help="time zone of tenants not in the tenants file (default UTC)")
    p.add_argument("--as-of", type=int, default=None,
                   help="evaluation time, epoch ms (default: the end of time)")
    p.add_argument("--pretty", action="store_true", help="indent the JSON output")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("simulate", help="write a synthetic centre's event log (JSON Lines)")
    p.add_argument("--agents", type=int, default=50)
    p.add_argument("--days", type=int, default=2)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 7),
                   help="first day, YYYY-MM-DD (default 2026-03-07: DST starts the day after)")
    p.add_argument("--time-zone", default="America/Chicago", type=_timezone)
    p.add_argument("--tenant", default="demo")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--late", type=float, default=0.0, help="share of late state events")
    p.add_argument("--duplicates", type=float, default=0.0, help="share delivered twice")
    p.add_argument("--known-late", type=float, default=0.0,
                   help="share of agents whose first schedule arrives after their states")
    p.add_argument("-o", "--output", default="-")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("bench", help="print performance figures")
    p.add_argument("what", choices=["core"])
    p.add_argument("--agents", type=int, default=2000)
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--baseline-agents", type=int, default=100,
                   help="agents in the (slow) from-scratch baseline run")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"rta {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
