"""LangGraph server API: store routes (being built)."""

from __future__ import annotations

from moot.service.langgraph_api.errors import langgraph_router

router = langgraph_router()

__all__ = ["router"]
