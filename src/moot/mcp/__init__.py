"""moot as an MCP server: a face of its own, beside `cli/` and `service/`.

It sits on top of the orchestrator, the runtime and persistence (a deliberation is one tool
call, earlier runs are searchable), so it cannot live in `tools/`, which is the MCP *client*
those layers use: a server there made the client package import the whole stack above it.
`moot mcp serve WORKSPACE` (moot.cli.mcp) runs it over stdio or streamable HTTP.
"""

from moot.mcp.server import Deliberation, RunMatch, make_moot_server

__all__ = ["Deliberation", "RunMatch", "make_moot_server"]
