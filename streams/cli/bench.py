"""`rta bench core|pipeline|recompute|connect|soak`: performance figures."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from streams.cli.common import jobs


def cmd_bench(args: argparse.Namespace) -> int:
    from streams.local.bench import bench_core

    if args.what == "core":
        return bench_core(agents=args.agents, days=args.days, baseline_agents=args.baseline_agents)
    if args.what == "recompute":
        from streams.local.bench_recompute import bench_recompute

        return bench_recompute(agents=args.agents, days=args.days, jobs=args.jobs)
    if args.what == "pipeline":
        from streams.local.bench_pipeline import bench_live, bench_pipeline

        if args.live_only:
            return bench_live(agents=args.agents, live_seconds=args.live_seconds,
                              broker=args.local_broker)
        return bench_pipeline(agents=args.agents, days=args.days, live_seconds=args.live_seconds,
                              broker=args.local_broker)
    if args.what == "soak":
        from streams.local.bench_soak import bench_soak

        return bench_soak(agents=args.agents, chunks=args.chunks, broker=args.local_broker)
    if args.what == "connect":
        from streams.local.bench_connect import bench_connect

        return bench_connect(agents=args.agents, rate=args.rate, per=args.per,
                             broker=args.local_broker)
    print(f"rta bench: unknown benchmark {args.what!r}", file=sys.stderr)
    return 2


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="print performance figures")
    p.add_argument("what", choices=["core", "pipeline", "recompute", "connect", "soak"])
    p.add_argument("--agents", type=int, default=2000)
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--baseline-agents", type=int, default=100,
                   help="agents in the (slow) from-scratch baseline run (core)")
    p.add_argument("--live-seconds", type=float, default=30.0,
                   help="length of the live latency run (pipeline)")
    p.add_argument("--live-only", action="store_true",
                   help="pipeline: skip the backlog; seed --agents logged-in agents and "
                        "measure live latency at that scale")
    p.add_argument("--local-broker", choices=["tansu", "kafka"], default="tansu",
                   help="pipeline, connect, soak: the local broker to measure on (default tansu)")
    p.add_argument("--rate", type=float, default=1.0,
                   help="connect: the platform's limit, requests per second (CCAI: 1)")
    p.add_argument("--chunks", type=int, default=8,
                   help="soak: the parts the day is produced in (a memory sample after each)")
    p.add_argument("--per", type=int, default=100,
                   help="connect: activity log records per page")
    p.add_argument("--jobs", type=jobs, default=[1],
                   help="recompute: process counts to run in turn on the same data, e.g. 1,2")
    p.set_defaults(func=cmd_bench)
