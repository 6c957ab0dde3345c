"""moot's MCP client: the ToolRuntime (`runtime`), one session per configured server (`servers`),
the tool layer's errors (`errors`) and the records that cross its borders (`types`, including
the `Ledger` interface).

Only the client lives here, so every layer above can use it without pulling in what uses it:
the demo servers are in `moot.builtin.servers`, moot's own MCP server in `moot.mcp`, and the
ledger's storage in `moot.persistence.ledger`. `tests/test_tools_imports.py` keeps this package free of
imports from the layers above it.
"""
