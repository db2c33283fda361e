"""`rta replay` and `rta simulate`: the pure core on files, no broker."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from streams.cli.common import epoch_ms, fraction, load_tenants, positive, timezone


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
        idents = result.held_identities
        shown = ", ".join(idents[:5]) + (f" and {len(idents) - 5} more" if len(idents) > 5 else "")
        print(f"{name}: warning: {result.held} state event(s) of ACD identities that no "
              f"schedule message names were not applied (tenant/acdServerId/acdAgentId: "
              f"{shown})", file=sys.stderr)
    option = orjson.OPT_INDENT_2 if args.pretty else 0
    sys.stdout.buffer.write(orjson.dumps(result.summaries, option=option) + b"\n")
    if result.rejected:
        print(f"{name}: {len(result.rejected)} line(s) rejected", file=sys.stderr)
        return 1
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    # the two generators take the same settings; their tenants differ by default
    spec_of: Any
    if args.profile == "basic":
        from streams.local.simulate import CentreSpec as spec_of
        from streams.local.simulate import generate
        tenant = "demo"
    else:
        from streams.local.centre import Centre as spec_of
        from streams.local.centre import generate  # type: ignore[assignment]
        tenant = "northwind"
    records = generate(spec_of(
        agents=args.agents, days=args.days, start=args.start, time_zone=args.time_zone,
        tenant=args.tenant or tenant, seed=args.seed, late_fraction=args.late,
        duplicate_fraction=args.duplicates, identities_known_late_fraction=args.known_late))
    try:
        out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
    except OSError as exc:
        print(f"rta simulate: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        return 2
    with out:
        for record in records:
            out.write(orjson.dumps(record) + b"\n")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="compute adherence offline from an event log (JSON Lines)")
    p.add_argument("file", help="event log, one {'kind', 'body'} record per line; - for stdin")
    p.add_argument("--tenants", help="tenants file (TOML)")
    p.add_argument("--tenant-timezone", default="UTC", type=timezone,
                   help="time zone of tenants not in the tenants file (default UTC)")
    p.add_argument("--as-of", type=epoch_ms, default=None,
                   help="evaluation time, epoch ms (default: the end of time)")
    p.add_argument("--pretty", action="store_true", help="indent the JSON output")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser(
        "simulate", help="write a synthetic centre's event log (JSON Lines)",
        description="Write a synthetic contact centre's event log (JSON Lines of {'kind', "
                    "'body'}), deterministic for a seed. --profile centre (default): the "
                    "believable centre of `rta up --demo` (docs/DEMO.md): teams with their own "
                    "shifts (day shifts 06:00-13:00, part-timers, an overnight team across "
                    "midnight), breaks and lunches, calls with hold and wrap-up, chat agents "
                    "with concurrency (chatCapacity, chatsInProgress), late logins, long calls "
                    "into breaks, early logouts, the odd UNKNOWN state; agents named, with "
                    "their team, in the schedules. --profile basic: the plain centre of the "
                    "benchmarks (uniform shifts, no names).")
    p.add_argument("--profile", choices=["centre", "basic"], default="centre",
                   help="centre (default: the believable demo centre) or basic (the "
                        "benchmarks' plain centre)")
    p.add_argument("--agents", type=positive, default=50)
    p.add_argument("--days", type=positive, default=2)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 7),
                   help="first day, YYYY-MM-DD (default 2026-03-07: DST starts the day after)")
    p.add_argument("--time-zone", default="America/Chicago", type=timezone)
    p.add_argument("--tenant", help="tenant id (default: northwind for --profile centre, as "
                                    "in examples/tenants.toml; demo for basic)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--late", type=fraction, default=0.0, help="share of late state events")
    p.add_argument("--duplicates", type=fraction, default=0.0, help="share delivered twice")
    p.add_argument("--known-late", type=fraction, default=0.0,
                   help="share of agents whose first schedule arrives after their states")
    p.add_argument("-o", "--output", default="-")
    p.set_defaults(func=cmd_simulate)
