"""The ``rta`` command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from rta.config import ConfigError, TenantsConfig

if TYPE_CHECKING:
    from streams.settings import WorkerSettings
    from wfm.config import WfmConfig


def load_tenants(path: str | None, default_time_zone: str = "UTC") -> TenantsConfig:
    """The tenants file (TOML); errors name the path and the key."""
    if path is None:
        return TenantsConfig.from_mapping(None, default_time_zone)
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"tenants file is a directory: {p}")
    if not p.is_file():
        raise ConfigError(f"tenants file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return TenantsConfig.from_toml(text, default_time_zone, str(p))


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _jobs(value: str) -> list[int]:
    try:
        out = [int(x) for x in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"a comma-separated list of counts, got {value!r}"
                                         ) from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"counts must be at least 1, got {value!r}")
    return out


def _fraction(value: str) -> float:
    x = float(value)
    if not 0 <= x <= 1:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1, got {x}")
    return x


def _epoch_ms(value: str) -> int:
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be epoch milliseconds >= 0, got {n}")
    return n


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
    from rta_cli.simulate import CentreSpec, generate

    spec = CentreSpec(agents=args.agents, days=args.days, start=args.start,
                      time_zone=args.time_zone, tenant=args.tenant, seed=args.seed,
                      late_fraction=args.late, duplicate_fraction=args.duplicates,
                      identities_known_late_fraction=args.known_late)
    try:
        out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
    except OSError as exc:
        print(f"rta simulate: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        return 2
    with out:
        for record in generate(spec):
            out.write(orjson.dumps(record) + b"\n")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from rta_cli.bench import bench_core

    if args.what == "core":
        return bench_core(agents=args.agents, days=args.days, baseline_agents=args.baseline_agents)
    if args.what == "recompute":
        from rta_cli.bench_recompute import bench_recompute

        return bench_recompute(agents=args.agents, days=args.days, jobs=args.jobs)
    if args.what == "pipeline":
        from rta_cli.bench_pipeline import bench_live, bench_pipeline

        if args.live_only:
            return bench_live(agents=args.agents, live_seconds=args.live_seconds,
                              broker=args.local_broker)
        return bench_pipeline(agents=args.agents, days=args.days, live_seconds=args.live_seconds,
                              broker=args.local_broker)
    print(f"rta bench: unknown benchmark {args.what!r}", file=sys.stderr)
    return 2


def _settings(args: argparse.Namespace) -> WorkerSettings:
    """Flags override ``RTA_*`` environment variables, which override defaults."""
    from streams.settings import WorkerSettings

    over = {k: v for k, v in {
        "broker_url": getattr(args, "broker", None),
        "tenants_file": getattr(args, "tenants", None),
        "web_port": getattr(args, "web_port", None),
        "default_time_zone": getattr(args, "tenant_timezone", None),
        "partitions": getattr(args, "partitions", None),
        "store": getattr(args, "store", None),
        "data_dir": getattr(args, "data_dir", None),
        "web_bind": getattr(args, "web_bind", None),
        "web_advertised_url": getattr(args, "web_advertised_url", None),
        "database_url": getattr(args, "database_url", None),
    }.items() if v is not None}
    return WorkerSettings(**over)


def cmd_worker(args: argparse.Namespace) -> int:
    from rta_cli.worker import run_worker

    settings = _settings(args)
    tenants = load_tenants(str(settings.tenants_file) if settings.tenants_file else None,
                           settings.default_time_zone)
    return run_worker(settings, tenants, banner=f"rta worker is running against "
                                                 f"{settings.broker_url}")


def cmd_up(args: argparse.Namespace) -> int:
    from rta_cli.local_broker import BrokerError, make_broker
    from rta_cli.worker import run_worker, up_banner

    base = Path(args.data_dir or "var/up")
    base.mkdir(parents=True, exist_ok=True)
    log = base / "broker.log"
    tenants_path = args.tenants or ("examples/tenants.toml"
                                    if Path("examples/tenants.toml").is_file() else None)
    if args.local_broker == "kafka":
        print("starting Apache Kafka (a JVM: seconds)...", file=sys.stderr, flush=True)
    with contextlib.ExitStack() as stack:
        broker = make_broker(args.local_broker, log=log)
        try:
            stack.enter_context(broker)
        except BrokerError as exc:
            print(f"rta up: {exc}", file=sys.stderr)
            return 2
        history = "off (--no-history)"
        if not args.no_history:
            from history.migrate import upgrade
            from rta_cli.local_postgres import LocalPostgres, PostgresError

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
        settings = _settings(args)
        tenants = load_tenants(tenants_path, settings.default_time_zone)
        if args.demo:
            from rta_cli.demo import start_demo

            stop = start_demo(settings, args.demo_agents)
        try:
            return run_worker(settings, tenants, banner=up_banner(
                broker.url, settings, log, demo_agents=args.demo_agents if args.demo else None,
                history=history, broker_kind=broker.kind))
        finally:
            if args.demo:
                stop.set()


def cmd_produce(args: argparse.Namespace) -> int:
    from rta_cli.kafka_tools import produce_file

    n = produce_file(_settings(args), args.file)
    print(f"sent {n} records", file=sys.stderr)
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    from rta_cli.kafka_tools import tail

    return tail(_settings(args), args.topic, args.idle, args.latest)


def cmd_demo(args: argparse.Namespace) -> int:
    import asyncio

    from rta_cli.kafka_tools import produce_records
    from rta_cli.simulate import CentreSpec, generate

    spec = CentreSpec(agents=args.agents, days=1, start=args.start, tenant="northwind",
                      time_zone="America/Chicago")
    n = asyncio.run(produce_records(_settings(args), list(generate(spec))))
    print(f"sent {n} records of a {args.agents}-agent demo day ({args.start}); now try:\n"
          f"  rta tail rta.adherence --latest --broker {args.broker}\n"
          f"  rta tail rta.alerts --broker {args.broker}", file=sys.stderr)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    import asyncio

    from history.migrate import current, downgrade, head, upgrade

    url = args.database_url or _settings(args).database_url
    if not url:
        print("rta migrate: no database: pass --database-url or set RTA_DATABASE_URL "
              "(postgresql+asyncpg://USER@HOST:PORT/DB)", file=sys.stderr)
        return 2
    before = asyncio.run(current(url))
    if args.downgrade:
        downgrade(url, args.downgrade)
    else:
        upgrade(url)
    after = asyncio.run(current(url))
    print(f"history schema: {before or 'none'} -> {after or 'none'} (this version: {head()})",
          file=sys.stderr)
    return 0


def cmd_recompute(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from history.migrate import NotMigrated
    from streams.recompute import recompute, report

    settings = _settings(args)
    if not settings.database_url:
        print("rta recompute: no database: pass --database-url or set RTA_DATABASE_URL",
              file=sys.stderr)
        return 2
    tenants = load_tenants(str(settings.tenants_file) if settings.tenants_file else None,
                           settings.default_time_zone)
    try:
        stats = asyncio.run(recompute(settings, tenants, args.tenant, args.from_day,
                                      args.to_day, args.agent, int(time.time() * 1000),
                                      publish=not args.no_publish, jobs=args.jobs))
    except (NotMigrated, ValueError) as exc:
        print(f"rta recompute: {exc}", file=sys.stderr)
        return 2
    print(report(stats), file=sys.stderr)
    return 0


def _wfm_config(path: str) -> WfmConfig:
    """The WFM file; its errors are ConfigErrors (printed by ``main``, exit 2)."""
    from wfm.config import WfmConfig, WfmConfigError

    try:
        return WfmConfig.load(path)
    except WfmConfigError as exc:
        raise ConfigError(str(exc)) from None


def cmd_forward(args: argparse.Namespace) -> int:
    from rta_cli.forward import run_forward

    config = _wfm_config(args.config)
    port, args.web_port = args.web_port, None  # the worker's API port is not this one
    return run_forward(_settings(args), config, port)


def cmd_schedules_sync(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from streams.schedule_sync import run_sync

    config = _wfm_config(args.config)
    settings = _settings(args)
    tenants = load_tenants(str(settings.tenants_file) if settings.tenants_file else None,
                           settings.default_time_zone)
    tenant = config.wfm.tenant
    time_zone = config.sync.time_zone or tenants.get(tenant).time_zone
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a directory
        print(f"rta schedules sync: {config.source}: [sync] time_zone: unknown IANA time "
              f"zone {time_zone!r}", file=sys.stderr)
        return 2
    if config.sync.time_zone is None and tenant not in tenants.tenants:
        print(f"rta schedules sync: tenant {tenant!r} is not in the tenants file; its days "
              f"are taken in {time_zone} (the default time zone)", file=sys.stderr)
    return run_sync(settings, config, time_zone, args.once)


def cmd_api_key(args: argparse.Namespace) -> int:
    from api.auth import hash_api_key, new_api_key

    key = args.key or new_api_key()
    print(f"key (give it to the client; it is not stored): {key}", file=sys.stderr)
    print("tenants file line (the key's hash):", file=sys.stderr)
    print(f'api_keys = ["{hash_api_key(key)}"]')
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from api.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("rta hash-password: the passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("rta hash-password: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rta", description="Real-time adherence engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay", help="compute adherence offline from an event log (JSON Lines)")
    p.add_argument("file", help="event log, one {'kind', 'body'} record per line; - for stdin")
    p.add_argument("--tenants", help="tenants file (TOML)")
    p.add_argument("--tenant-timezone", default="UTC", type=_timezone,
                   help="time zone of tenants not in the tenants file (default UTC)")
    p.add_argument("--as-of", type=_epoch_ms, default=None,
                   help="evaluation time, epoch ms (default: the end of time)")
    p.add_argument("--pretty", action="store_true", help="indent the JSON output")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("simulate", help="write a synthetic centre's event log (JSON Lines)")
    p.add_argument("--agents", type=_positive, default=50)
    p.add_argument("--days", type=_positive, default=2)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 7),
                   help="first day, YYYY-MM-DD (default 2026-03-07: DST starts the day after)")
    p.add_argument("--time-zone", default="America/Chicago", type=_timezone)
    p.add_argument("--tenant", default="demo")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--late", type=_fraction, default=0.0, help="share of late state events")
    p.add_argument("--duplicates", type=_fraction, default=0.0, help="share delivered twice")
    p.add_argument("--known-late", type=_fraction, default=0.0,
                   help="share of agents whose first schedule arrives after their states")
    p.add_argument("-o", "--output", default="-")
    p.set_defaults(func=cmd_simulate)

    def broker_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--broker", help="kafka://HOST:PORT (env RTA_BROKER_URL)")

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
    p.add_argument("--tenants", help="tenants file (default examples/tenants.toml if present)")
    p.add_argument("--tenant-timezone")
    p.add_argument("--data-dir", help="where logs and state go (default var/up)")
    p.add_argument("--demo", action="store_true",
                   help="feed a simulated centre (yesterday and today, as if live)")
    p.add_argument("--demo-agents", type=_positive, default=20)
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

    p = sub.add_parser("demo", help="send a simulated centre's day to a running engine")
    broker_flag(p)
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 6))
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("migrate", help="bring the history database to this version's schema "
                                       "(Alembic; a deploy step)")
    p.add_argument("--database-url", help="postgresql+asyncpg://USER@HOST:PORT/DB "
                                          "(env RTA_DATABASE_URL)")
    p.add_argument("--downgrade", metavar="REVISION",
                   help="go down to REVISION instead (base: drop everything)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("recompute", help="rebuild day summaries of any past range from the "
                                         "history database and publish them")
    p.add_argument("--tenant", required=True)
    p.add_argument("--from", dest="from_day", required=True, type=date.fromisoformat,
                   help="first day, YYYY-MM-DD (tenant time zone)")
    p.add_argument("--to", dest="to_day", required=True, type=date.fromisoformat,
                   help="last day, YYYY-MM-DD (inclusive)")
    p.add_argument("--agent", help="only this agent id")
    p.add_argument("--tenants", help="tenants file (TOML) (env RTA_TENANTS_FILE)")
    p.add_argument("--database-url", help="env RTA_DATABASE_URL")
    broker_flag(p)
    p.add_argument("--no-publish", action="store_true",
                   help="write the database only, not rta.adherence")
    p.add_argument("--jobs", type=_positive, default=1,
                   help="processes sharing the agents (default 1; the machine's cores "
                        "minus what the database needs)")
    p.set_defaults(func=cmd_recompute)

    p = sub.add_parser("forward", help="forward rta.agent-state to a Webex WFO-style WFM "
                                       "(realTimeAgentState)")
    p.add_argument("--config", required=True,
                   help="WFM file (TOML): [wfm] base_url, tenant, user; [forward] batching")
    broker_flag(p)
    p.add_argument("--web-port", type=int, default=6067,
                   help="port of /metrics and /livez (default 6067; 0: none)")
    p.set_defaults(func=cmd_forward)

    p = sub.add_parser("schedules", help="schedules from a Webex WFO-style WFM")
    schedules = p.add_subparsers(dest="schedules_command", required=True)
    p = schedules.add_parser("sync", help="publish the WFM's schedules to rta.schedule: the "
                                          "agent-days that changed, every interval")
    p.add_argument("--config", required=True,
                   help="WFM file (TOML): [wfm] base_url, tenant, user; [sync] range, limits")
    broker_flag(p)
    p.add_argument("--tenants", help="tenants file (TOML) with the tenant's time zone "
                                     "(env RTA_TENANTS_FILE; [sync] time_zone overrides it)")
    p.add_argument("--once", action="store_true", help="one pass, then exit (1 if it failed)")
    p.set_defaults(func=cmd_schedules_sync)

    p = sub.add_parser("api-key", help="make an HTTP API key and the hash for the tenants file")
    p.add_argument("--key", help="hash this key instead of making a new one")
    p.set_defaults(func=cmd_api_key)

    p = sub.add_parser("hash-password",
                       help="hash a session login password for the tenants file (reads stdin)")
    p.set_defaults(func=cmd_hash_password)

    p = sub.add_parser("bench", help="print performance figures")
    p.add_argument("what", choices=["core", "pipeline", "recompute"])
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
                   help="pipeline: the local broker to measure on (default tansu)")
    p.add_argument("--jobs", type=_jobs, default=[1],
                   help="recompute: process counts to run in turn on the same data, e.g. 1,2")
    p.set_defaults(func=cmd_bench)
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
