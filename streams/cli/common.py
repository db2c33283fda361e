"""What the command groups share: the tenants file, flag types, settings from flags."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rta.config import ConfigError, TenantsConfig

if TYPE_CHECKING:
    from streams.settings import WorkerSettings
    from streams.wfm.config import WfmConfig


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


def positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def jobs(value: str) -> list[int]:
    try:
        out = [int(x) for x in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"a comma-separated list of counts, got {value!r}"
                                         ) from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"counts must be at least 1, got {value!r}")
    return out


def fraction(value: str) -> float:
    x = float(value)
    if not 0 <= x <= 1:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1, got {x}")
    return x


def epoch_ms(value: str) -> int:
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be epoch milliseconds >= 0, got {n}")
    return n


def timezone(value: str) -> str:
    from rta.config import TenantSettings
    try:
        TenantSettings(time_zone=value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"unknown IANA time zone {value!r}") from None
    return value


def settings_from(args: argparse.Namespace) -> WorkerSettings:
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


def broker_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", help="kafka://HOST:PORT (env RTA_BROKER_URL)")


def wfm_config(path: str) -> WfmConfig:
    """The WFM file; its errors are ConfigErrors (printed by ``main``, exit 2)."""
    from streams.wfm.config import WfmConfig, WfmConfigError

    try:
        return WfmConfig.load(path)
    except WfmConfigError as exc:
        raise ConfigError(str(exc)) from None
