"""`rta migrate` and `rta recompute`: the history database."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from typing import Any

from streams.cli.common import broker_flag, load_tenants, positive, settings_from


def cmd_migrate(args: argparse.Namespace) -> int:
    import asyncio

    from streams.history.migrate import current, downgrade, head, upgrade

    url = args.database_url or settings_from(args).database_url
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

    from streams.history.migrate import NotMigrated
    from streams.history.runner import recompute, report
    from streams.logs import configure_logging, say

    settings = settings_from(args)
    if settings.log_format == "json":  # (text: as before, warnings only, plain)
        configure_logging(settings.log_level, "json", "rta recompute")
    if not settings.database_url:
        say("rta recompute: no database: pass --database-url or set RTA_DATABASE_URL",
            logging.ERROR)
        return 2
    tenants = load_tenants(str(settings.tenants_file) if settings.tenants_file else None,
                           settings.default_time_zone)
    try:
        stats = asyncio.run(recompute(settings, tenants, args.tenant, args.from_day,
                                      args.to_day, args.agent, int(time.time() * 1000),
                                      publish=not args.no_publish, jobs=args.jobs))
    except (NotMigrated, ValueError) as exc:
        say(f"rta recompute: {exc}", logging.ERROR)
        return 2
    say(report(stats))
    return 0


def register(sub: Any) -> None:
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
    p.add_argument("--jobs", type=positive, default=1,
                   help="processes sharing the agents (default 1; the machine's cores "
                        "minus what the database needs)")
    p.set_defaults(func=cmd_recompute)
