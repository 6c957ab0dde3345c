"""What semantic memory keeps about a user: the kinds LangMem extracts (facts, preferences, one
profile), how a memory reads as text, and the namespace label of a user.

Kept apart from moot.memory.semantic (the store and LangMem's manager) so that the data a
workspace or a test reads needs neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from moot.errors import UsageError


class Fact(BaseModel):
    """Record one fact about the user: who they are, what they have, what happened to them."""

    content: str = Field(max_length=200, description="One short, self-contained fact about the user")


class Preference(BaseModel):
    """Record one preference the user stated or showed."""

    category: str = Field(max_length=30, description="travel, food, lodging, budget, schedule, ...")
    preference: str = Field(max_length=160, description="What the user prefers, e.g. 'trains over flights'")


class Profile(BaseModel):
    """The user's profile: one per user. Patch it when something about the user changes."""

    name: str | None = Field(default=None, max_length=60)
    home: str | None = Field(default=None, max_length=80, description="Where the user lives")
    language: str | None = Field(default=None, max_length=30)
    notes: str | None = Field(default=None, max_length=200, description="Anything else that describes the user")


SCHEMAS: tuple[type[BaseModel], ...] = (Fact, Preference, Profile)
PROFILE_KIND = "Profile"
PROFILE_KEY = "profile"
SUBSPACES = {"Fact": "facts", "Preference": "preferences", "Profile": "profile"}

INSTRUCTIONS = (
    "Keep what you learn about the user as memories: facts about them, their preferences and their "
    "profile. Record only what the user said or what a run's outcome showed; never guess. When new "
    "information changes an existing memory (the user moved, changed their mind), patch that memory "
    "instead of adding a new one. Do not record what is already remembered."
)


@dataclass(frozen=True)
class Change:
    """One write an extraction made: what happened to which memory, and what it now says."""

    action: Literal["insert", "update", "delete"]
    key: str
    kind: str
    text: str


def user_key(user_id: str) -> str:
    """The namespace label of a user: the id itself when it is plain, percent-encoded otherwise.

    LangGraph forbids '.' in namespace labels; encoding (not stripping) keeps two ids that differ
    only there apart.
    """
    if not isinstance(user_id, str) or not user_id:
        raise UsageError("semantic memory: every call needs a non-empty user_id (memory is kept per user)")
    return quote(user_id, safe="").replace(".", "%2E")


def render(kind: str, content: dict[str, Any]) -> str:
    """The text of a memory: what search embeds and what recall shows."""
    if kind == "Fact":
        return str(content.get("content", ""))
    if kind == "Preference":
        return f"{content.get('category', '')} preference: {content.get('preference', '')}"
    if "content" in content and isinstance(content["content"], str):
        return content["content"]
    fields = ", ".join(f"{name}: {value}" for name, value in content.items() if value not in (None, ""))
    return f"{kind.lower()}: {fields}" if kind == PROFILE_KIND else fields


__all__ = [
    "INSTRUCTIONS", "PROFILE_KEY", "PROFILE_KIND", "SCHEMAS", "SUBSPACES", "Change", "Fact", "Preference",
    "Profile", "render", "user_key",
]
