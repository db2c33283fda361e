"""`rta forward` and `rta schedules sync`: the WFM side."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from streams.cli.common import broker_flag, load_tenants, settings_from, wfm_config


def cmd_forward(args: argparse.Namespace) -> int:
    from streams.wfm.run import run_forward

    config = wfm_config(args.config)
    port, args.web_port = args.web_port, None  # the worker's API port is not this one
    return run_forward(settings_from(args), config, port)


def cmd_schedules_sync(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from streams.wfm.schedule_sync import run_sync

    config = wfm_config(args.config)
    settings = settings_from(args)
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


def register(sub: Any) -> None:
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
