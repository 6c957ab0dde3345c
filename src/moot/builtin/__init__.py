"""What ships inside moot for a workspace to use: the built-in workspaces (the data folders
`demo/`, `code_review/`, `research/`, found by `moot.workspace.loader.builtin_path`) and the
demo MCP servers they start (`servers/`)."""
