"""moot: state-driven multi-agent deliberation on LangGraph."""
