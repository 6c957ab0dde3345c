"""Tools over MCP: the ToolRuntime, its ledger, the server configuration, the demo travel server."""
