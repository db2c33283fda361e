"""`rta worker`, `rta up`, `rta produce`, `rta tail`, `rta demo`: the stream engine
and its topics."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.cli.common import broker_flag, load_tenants, positive, settings_from

if TYPE_CHECKING:
    from streams.settings import WorkerSettings


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.worker.run import run_worker

    settings = settings_from(args)
    tenants = load_tenants(str(settings.tenants_file) if settings.tenants_file else None,
                           settings.default_time_zone)
    return run_worker(settings, tenants, banner=f"rta worker is running against "
                                                 f"{settings.broker_url}")


def cmd_up(args: argparse.Namespace) -> int:
    from streams.local.broker import BrokerError, make_broker
    from streams.local.demo import demo_tenants_file
    from streams.worker.run import run_worker

    base = Path(args.data_dir or "var/up")
    base.mkdir(parents=True, exist_ok=True)
    log = base / "broker.log"
    if args.local_broker == "kafka":
        print("starting Apache Kafka (a JVM: seconds)...", file=sys.stderr, flush=True)
    with contextlib.ExitStack() as stack:
        # default: the demo's tenant and credentials, a file of the package
        demo_tenants = not args.tenants
        tenants_path = args.tenants or str(stack.enter_context(demo_tenants_file()))
        broker = make_broker(args.local_broker, log=log)
        try:
            stack.enter_context(broker)
        except BrokerError as exc:
            print(f"rta up: {exc}", file=sys.stderr)
            return 2
        history = "off (--no-history)"
        if not args.no_history:
            from streams.history.migrate import upgrade
            from streams.local.postgres import LocalPostgres, PostgresError

            try:
                pg = stack.enter_context(LocalPostgres())
            except PostgresError as exc:
                history = f"off: {exc}"
            else:
                upgrade(pg.url)
                args.database_url = pg.url
                history = f"PostgreSQL, throwaway: {pg.url}"
        args.broker = broker.url
        args.data_dir = str(base / "worker")
        args.tenants = tenants_path
        # one machine: the API listens on localhost only
        args.web_bind = "127.0.0.1"
        args.web_advertised_url = f"http://127.0.0.1:{args.web_port or 6066}"
        settings = settings_from(args)
        tenants = load_tenants(tenants_path, settings.default_time_zone)
        if args.demo:
            from streams.local.demo import start_demo

            stop = start_demo(settings, args.demo_agents)
        try:
            return run_worker(settings, tenants, banner=up_banner(
                broker.url, settings, log, tenants_path, demo_tenants=demo_tenants,
                demo_agents=args.demo_agents if args.demo else None, history=history,
                broker_kind=broker.kind))
        finally:
            if args.demo:
                stop.set()


def cmd_produce(args: argparse.Namespace) -> int:
    n = produce_file(settings_from(args), args.file)
    print(f"sent {n} records", file=sys.stderr)
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    return tail(settings_from(args), args.topic, args.idle, args.latest)


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.local.centre import Centre, generate
    from streams.local.demo import DEMO_KEY, TENANT, TIME_ZONE, ingest_items, send_http

    spec = Centre(agents=args.agents, days=1, start=args.start, tenant=TENANT,
                  time_zone=TIME_ZONE, seed=args.seed)
    if args.url:  # as real sources send: the HTTP ingest
        n = send_http(args.url, args.api_key or DEMO_KEY, ingest_items(spec))
        print(f"sent {n} records of a {args.agents}-agent demo day ({args.start}) to "
              f"{args.url}; now try:\n  curl -H 'x-api-key: {args.api_key or DEMO_KEY}' "
              f"'{args.url}/api/rest/scheduling/adherence/agent?date={args.start}'",
              file=sys.stderr)
        return 0
    from streams.kafka import produce_records

    n = asyncio.run(produce_records(settings_from(args), list(generate(spec))))
    print(f"sent {n} records of a {args.agents}-agent demo day ({args.start}); now try:\n"
          f"  rta tail rta.adherence --latest --broker {args.broker}\n"
          f"  rta tail rta.alerts --broker {args.broker}", file=sys.stderr)
    return 0


def produce_file(settings: WorkerSettings, path: str) -> int:
    from rta.replay import read_lines
    from streams.kafka import produce_records

    with (sys.stdin.buffer if path == "-" else open(path, "rb")) as fh:
        records = [rec for _, rec in read_lines(fh) if isinstance(rec, dict)]
    return asyncio.run(produce_records(settings, records))


def tail(settings: WorkerSettings, topic: str, idle: float, latest: bool) -> int:
    from streams.kafka import read_topic

    rows = asyncio.run(read_topic(settings, topic, idle))
    if latest:
        last: dict[bytes | None, bytes | None] = {}
        for k, v in rows:
            last[k] = v
        rows = [(k, v) for k, v in last.items() if v is not None]
    for k, v in rows:
        key = k.decode(errors="replace") if k else ""
        sys.stdout.write(f"{key}\t{v.decode(errors='replace') if v else 'null'}\n")
    return 0


def up_banner(broker: str, settings: WorkerSettings, log: Path, tenants_file: str,
              demo_tenants: bool = True, demo_agents: int | None = None,
              history: str = "off", broker_kind: str = "tansu") -> str:
    """What `rta up` prints once the worker is ready; ``demo_tenants``: the
    tenants file is the demo's, so the demo key works."""
    if demo_agents is None:
        demo = f"  try:  rta demo --broker {broker}\n"
    else:
        demo = (f"  demo: {demo_agents} agents of tenant northwind (America/Chicago), "
                f"yesterday and today, fed as the clock goes\n"
                f"  watch: rta tail {settings.topic_alerts} --broker {broker}\n"
                f"         rta tail {settings.topic_adherence} --latest --broker {broker}\n")
    from streams.local.demo import DEMO_KEY

    api = f"http://127.0.0.1:{settings.web_port}"
    if demo_tenants:
        keys, key = f"demo key in {tenants_file}", DEMO_KEY
        signin = f"the demo key {DEMO_KEY}"
    else:
        keys, key = f"API keys in {tenants_file}", "YOUR-KEY"
        signin = "a tenant's API key, or user and password"
    if broker_kind == "kafka":
        from streams.local.kafka import KAFKA_VERSION

        kind, keeps = f"Apache Kafka {KAFKA_VERSION}, throwaway data", "a temporary folder"
    else:
        kind, keeps = "Tansu, in memory", "memory only"
    return f"""
rta is up.
  monitor:  {api}/monitor  (sign in with {signin})
  HTTP API: {api}  (OpenAPI: {api}/openapi.json; {keys})
    curl -H 'x-api-key: {key}' {api}/v1/agents/1000/status
  broker ({kind}): {broker}
  history: {history}
  send state events to   {settings.topic_state}   key tenantId:acdServerId:acdAgentId
  send schedules to      {settings.topic_schedule}      key tenantId:agentId
  results on             {settings.topic_adherence}, {settings.topic_status}, \
{settings.topic_alerts}, {settings.topic_deadletter}
{demo}  broker log: {log}
Ctrl-C stops everything (the broker keeps data in {keeps}).
"""


def register(sub: Any) -> None:
    p = sub.add_parser("worker", help="run one stream worker against a Kafka broker")
    broker_flag(p)
    p.add_argument("--tenants", help="tenants file (TOML) (env RTA_TENANTS_FILE)")
    p.add_argument("--web-port", type=int, help="HTTP port (env RTA_WEB_PORT)")
    p.add_argument("--tenant-timezone", help="time zone of tenants not in the tenants file")
    p.add_argument("--partitions", type=int, help="partitions of created topics (default 4)")
    p.add_argument("--store", help="table store: memory:// or rocksdb:// (default memory://)")
    p.add_argument("--data-dir", help="worker state directory (default var/worker)")
    p.add_argument("--database-url", help="history database, migrated with `rta migrate` "
                                          "(env RTA_DATABASE_URL)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("up", help="the whole engine on this machine: local broker + worker")
    p.add_argument("--tenants", help="tenants file (default: the demo's, tenant northwind "
                                      "with the demo key the banner names)")
    p.add_argument("--tenant-timezone")
    p.add_argument("--data-dir", help="where logs and state go (default var/up)")
    p.add_argument("--demo", action="store_true",
                   help="feed a simulated centre (yesterday and today, as if live)")
    p.add_argument("--demo-agents", type=positive, default=20)
    p.add_argument("--web-port", type=int, help="HTTP API port (default 6066)")
    p.add_argument("--local-broker", choices=["tansu", "kafka"], default="tansu",
                   help="tansu (default: in memory, ready at once, no JVM) or kafka (Apache "
                        "Kafka from its jars: needs Java 17+, and Maven the first time)")
    p.add_argument("--no-history", action="store_true",
                   help="no history database (default: a throwaway local PostgreSQL when "
                        "its server binaries are installed)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("produce", help="send an event log (JSON Lines) to the input topics")
    p.add_argument("file", help="event log; - for stdin")
    broker_flag(p)
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("tail", help="print a topic's records (key TAB value)")
    p.add_argument("topic")
    broker_flag(p)
    p.add_argument("--latest", action="store_true", help="only the latest value per key")
    p.add_argument("--idle", type=float, default=2.0, help="stop after this many idle seconds")
    p.set_defaults(func=cmd_tail)

    p = sub.add_parser("demo", help="send a simulated centre's day to a running engine "
                                     "(the demo centre of rta up --demo, docs/DEMO.md)")
    broker_flag(p)
    p.add_argument("--url", help="send through the HTTP ingest of the worker at this address "
                                 "(e.g. http://127.0.0.1:6066) instead of to the broker's topics")
    p.add_argument("--api-key", help="API key of tenant northwind for --url (default: the "
                                     "demo key)")
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 6))
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_demo)
