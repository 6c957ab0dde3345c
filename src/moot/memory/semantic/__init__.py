"""Semantic memory: what moot knows about a user (facts, preferences, profile), kept by LangMem.

`kinds.py` is what is kept (the schemas LangMem extracts, how a memory reads); `memory.py` keeps
it in a LangGraph store (`moot.memory.stores`); `tools.py` hands the same store to agents as
LangMem's own tools, under the workspace's write policy.
"""

from moot.memory.semantic.kinds import (
    INSTRUCTIONS,
    PROFILE_KEY,
    PROFILE_KIND,
    SCHEMAS,
    SUBSPACES,
    Change,
    Fact,
    Preference,
    Profile,
    render,
    user_key,
)
from moot.memory.semantic.memory import ROOT, SemanticMemory
from moot.memory.semantic.tools import MEMORY_KEY, MemoryTools, call_tool

__all__ = [
    "INSTRUCTIONS",
    "MEMORY_KEY",
    "PROFILE_KEY",
    "PROFILE_KIND",
    "ROOT",
    "SCHEMAS",
    "SUBSPACES",
    "Change",
    "Fact",
    "MemoryTools",
    "Preference",
    "Profile",
    "SemanticMemory",
    "call_tool",
    "render",
    "user_key",
]
