"""`moot mcp ...`: run moot's MCP servers standalone, over stdio (the default) or streamable HTTP.

    moot mcp travel [--db PATH] [--http PORT [--host HOST]]      the demo travel server
    moot mcp serve WORKSPACE [--model M] [--db PATH] [--http PORT [--host HOST]]
                                                                 moot itself: deliberate, search_runs

Over stdio, standard output carries the protocol and nothing else; logs go to standard error.
Over HTTP the endpoint is `http://HOST:PORT/mcp`. A bad workspace or model setting is reported
(exit 2) before the server starts.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from moot.errors import ConfigError, UsageError


def add_mcp_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `mcp` and its commands to a parser's subparsers (those of `moot`)."""
    mcp = subparsers.add_parser("mcp", help="run moot's MCP servers (the demo travel server, moot itself)")
    sub = mcp.add_subparsers(dest="mcp_command", required=True, metavar="{travel,serve}")

    def transport(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--http", type=int, default=None, metavar="PORT", help="serve streamable HTTP on PORT (default: stdio)")
        sp.add_argument("--host", default="127.0.0.1", help="address to bind with --http (default: 127.0.0.1)")

    travel = sub.add_parser("travel", help="the demo travel server: search and book flights and hotels")
    travel.add_argument("--db", default=None, help="inventory database (default: $MOOT_HOME/travel.db)")
    transport(travel)

    serve = sub.add_parser("serve", help="serve a workspace's deliberation and its run search as MCP tools")
    serve.add_argument("workspace", help="built-in name (demo) or folder")
    serve.add_argument("--model", default=None, help="override every model: local[:GGUF] or scripted:PATH")
    serve.add_argument("--db", default=None, help="checkpoint database (default: $MOOT_HOME/moot.db)")
    transport(serve)
    return mcp


def run_mcp(args: argparse.Namespace) -> int:
    """Run the server `args` names until the client goes away (stdio) or Ctrl-C (HTTP)."""
    try:
        if args.mcp_command == "travel":
            from moot.builtin.servers.travel import make_travel_server

            server = make_travel_server(args.db)
        else:
            from moot.mcp import make_moot_server

            server = make_moot_server(args.workspace, model_override=args.model, db=args.db)
    except (ConfigError, UsageError) as exc:
        print(f"moot: error: {exc}", file=sys.stderr)
        return 2
    # a client that stops a stdio server sends SIGTERM after closing its stdin: exit through
    # Python's shutdown, so that the server's last trace spans are exported (atexit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if args.http is None:
            server.run("stdio", show_banner=False)
        else:
            server.run("http", show_banner=False, host=args.host, port=args.http)
    except KeyboardInterrupt:
        pass
    finally:
        from moot.telemetry.setup import shutdown

        shutdown()  # flush this process's spans now (a no-op when tracing is off)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m moot.cli.mcp travel ...`: the same commands without the `moot` entry point."""
    parser = argparse.ArgumentParser(prog="moot")
    add_mcp_parser(parser.add_subparsers(dest="command", required=True))
    return run_mcp(parser.parse_args(["mcp", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
