"""`rta connect SOURCE --config FILE`: an ACD connector (docs/ACD.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from streams.cli.common import broker_flag, settings_from


def cmd_connect(args: argparse.Namespace) -> int:
    from streams.acd.config import ConnectorConfig, ConnectorConfigError
    from streams.acd.run import run_connect

    try:
        config = ConnectorConfig.load(args.source, args.config)
    except ConnectorConfigError as exc:
        print(f"rta connect: {exc}", file=sys.stderr)
        return 2
    port, args.web_port = args.web_port, None  # the worker's API port is not this one
    return run_connect(settings_from(args), config, port)


def register(sub: Any) -> None:
    p = sub.add_parser("connect", help="an ACD connector: poll a contact-centre platform and "
                                       "publish its agents' states to rta.agent-state")
    p.add_argument("source", choices=["ccai", "omni"],
                   help="ccai: CCAI Platform activity logs; omni: Omni report and dashboard")
    p.add_argument("--config", required=True,
                   help="connector file (TOML): [connector] tenant, acd_server_id, base_url; "
                        "[ccai] or [omni]; [mapping]; [identities] (docs/ACD.md)")
    broker_flag(p)
    p.add_argument("--web-port", type=int, default=6068,
                   help="port of /metrics and /livez (default 6068; 0: none)")
    p.set_defaults(func=cmd_connect)
