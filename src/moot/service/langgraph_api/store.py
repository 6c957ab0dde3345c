"""LangGraph server API: store routes (being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["langgraph"])

__all__ = ["router"]
