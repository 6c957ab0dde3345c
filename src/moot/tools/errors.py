"""The tool layer's errors, grouped like `moot.errors` by who must act.

```
MootError
├── ConfigError
│   └── ServerConfigError        a server cannot be used as configured: the workspace author
│       ├── ServerStartError     a server is not installed, does not start or does not list its tools
│       └── DuplicateToolError   two servers list a tool of the same name
└── RunError
    └── ToolArgumentsError       the model must repair its call: arguments do not match the schema
        └── UnknownToolError     ... or name a tool that no server lists
```

A failure *during* a call (connection lost, timeout, the tool's own error answer, malformed
content) is not raised: it is a `ToolOutcome` with `ok=False`, recorded in the ledger like a
success, so a replayed run sees the same history.
"""

from __future__ import annotations

from moot.errors import ConfigError, RunError


class ServerConfigError(ConfigError):
    """An MCP server of the workspace cannot be used as configured (`mcp_servers.<server>`)."""

    def __init__(self, server: str, message: str) -> None:
        self.server = server
        super().__init__(f"MCP server {server!r}: {message}")


class ServerStartError(ServerConfigError):
    """A server is not installed, exited or timed out at start-up, or could not list its tools.

    `target` is what was started or reached (the command line, the URL, the builtin's name);
    `stderr` the end of what a stdio server wrote to its stderr before it gave up, if anything.
    """

    def __init__(self, server: str, target: str, reason: str, *, fix: str = "", stderr: str = "") -> None:
        self.target = target
        self.reason = reason
        self.stderr = stderr
        tail = "\n  its stderr ended with:\n    " + stderr.replace("\n", "\n    ") if stderr else ""
        fix = f" {fix}" if fix else ""
        super().__init__(server, f"could not start {target}: {reason}.{fix}{tail}")


class DuplicateToolError(ServerConfigError):
    """Two servers list a tool of the same name: calls are routed by tool name alone."""

    def __init__(self, tool: str, first: str, second: str) -> None:
        self.tool = tool
        self.servers = (first, second)
        super().__init__(
            second,
            f"lists tool {tool!r}, which server {first!r} lists too; tool names must be unique across "
            f"the workspace's mcp_servers. Remove one of the two servers from moot.yaml.",
        )


class ToolArgumentsError(RunError):
    """A tool call's arguments do not match the tool's input schema; nothing was sent.

    The model must act: the booking agent shows it `message` and asks for a corrected call.
    """

    def __init__(self, tool: str, message: str, *, path: str = "") -> None:
        self.tool = tool
        self.path = path
        self.reason = message
        where = f" at {path}" if path else ""
        super().__init__(f"tool {tool!r}: arguments do not match its input schema{where}: {message}")


class UnknownToolError(ToolArgumentsError):
    """The call names a tool that no server of the workspace lists; nothing was sent."""

    def __init__(self, tool: str, known: list[str]) -> None:
        self.known = sorted(known)
        RunError.__init__(
            self, f"unknown tool {tool!r}; the workspace's MCP servers list: {', '.join(self.known) or 'no tools'}"
        )
        self.tool = tool
        self.path = ""
        self.reason = "unknown tool"


__all__ = [
    "DuplicateToolError",
    "ServerConfigError",
    "ServerStartError",
    "ToolArgumentsError",
    "UnknownToolError",
]
