"""`moot keys ...`: create, list and revoke the service's API keys.

The key database is `--db`, else `$MOOT_DATABASE_URL` (postgresql://...), else `$MOOT_HOME/keys.db`.
`create` prints the plaintext key once, alone on standard output (so `KEY=$(moot keys create ...)`
captures exactly the key), and what to do with it on standard error: only its hash is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from moot.service.keys import ApiKeyInfo, key_store


def add_keys_parser(sub: Any) -> None:
    keys = sub.add_parser("keys", help="API keys of the service: each maps to a tenant (stored hashed)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--db", default=None, help="key database: postgresql://... or a SQLite file "
                        "(default: $MOOT_DATABASE_URL, else $MOOT_HOME/keys.db)")
        sp.add_argument("--json", action="store_true", help="print JSON")

    create = keys_sub.add_parser("create", help="make a key for a tenant and print it once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--label", default="", help="a note that says what the key is for")
    common(create)
    listing = keys_sub.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--tenant", default=None, help="only this tenant's keys")
    common(listing)
    revoke = keys_sub.add_parser("revoke", help="revoke a key for good")
    revoke.add_argument("key_id")
    common(revoke)


def run_keys(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    async with key_store(args.db) as store:
        if args.keys_command == "create":
            info, secret = await store.create(args.tenant, label=args.label)
            if args.json:
                print(json.dumps({**info.model_dump(), "key": secret}))
            else:
                print(secret)
                print(
                    f"API key {info.key_id} for tenant {info.tenant!r}: copy it now, it is not stored and cannot be "
                    "shown again; send it as 'Authorization: Bearer <key>'",
                    file=sys.stderr,
                )
        elif args.keys_command == "list":
            found = await store.list(args.tenant)
            if args.json:
                print(json.dumps([info.model_dump() for info in found]))
            else:
                _table(found)
        else:
            await store.revoke(args.key_id)
            if args.json:
                print(json.dumps({"key_id": args.key_id, "revoked": True}))
            else:
                print(f"revoked API key {args.key_id}")
    return 0


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t)) if t is not None else "-"


def _table(found: list[ApiKeyInfo]) -> None:
    if not found:
        print("no API keys", file=sys.stderr)
        return
    rows = [("KEY_ID", "TENANT", "STATUS", "CREATED", "LAST_USED", "LABEL")] + [
        (i.key_id, i.tenant, "active" if i.active else "revoked", _when(i.created_at), _when(i.last_used_at), i.label)
        for i in found
    ]
    widths = [max(len(row[c]) for row in rows) for c in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5])


__all__ = ["add_keys_parser", "run_keys"]
