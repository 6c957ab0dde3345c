"""The page modules; each holds an `APIRouter` named `router` for one concept of the page."""

from __future__ import annotations

from importlib import import_module

from fastapi import APIRouter

MODULES = (
    "login",
    "runs",
    "run",
    "history",
    "sessions",
    "workspaces",
)
"""Page modules, in the order their routes are tried."""


def routers() -> list[APIRouter]:
    return [import_module(f"{__name__}.{name}").router for name in MODULES]


__all__ = ["MODULES", "routers"]
