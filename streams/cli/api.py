"""`rta api-key` and `rta hash-password`: credentials for the tenants file."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_api_key(args: argparse.Namespace) -> int:
    from streams.api.auth import hash_api_key, new_api_key

    key = args.key or new_api_key()
    print(f"key (give it to the client; it is not stored): {key}", file=sys.stderr)
    print("tenants file line (the key's hash):", file=sys.stderr)
    print(f'api_keys = ["{hash_api_key(key)}"]')
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from streams.api.auth import hash_password

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


def register(sub: Any) -> None:
    p = sub.add_parser("api-key", help="make an HTTP API key and the hash for the tenants file")
    p.add_argument("--key", help="hash this key instead of making a new one")
    p.set_defaults(func=cmd_api_key)

    p = sub.add_parser("hash-password",
                       help="hash a session login password for the tenants file (reads stdin)")
    p.set_defaults(func=cmd_hash_password)
