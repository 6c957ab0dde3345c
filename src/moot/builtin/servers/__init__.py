"""The MCP servers that ship with moot's built-in workspaces: the travel agency (`travel`, over
the inventory of `travel_inventory` and `travel_data`) and the review desk (`review_desk`, with
the static checks of `diff_checks`).

They are demo *servers*, apps of the MCP client in `moot.tools`, not part of it: they depend on
`moot.tools.types` (the idempotency key in a request's `_meta`, the "retry:" convention) and
never the reverse. `BUILTIN_SERVERS` maps the name a workspace writes in
`mcp_servers: {x: {builtin: NAME}}` to a factory; whoever opens a `ToolRuntime` passes it in.
"""

from moot.builtin.servers.registry import BUILTIN_SERVERS, builtin_servers

__all__ = ["BUILTIN_SERVERS", "builtin_servers"]
