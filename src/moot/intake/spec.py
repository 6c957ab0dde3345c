"""What a workspace declares of one slot: its type, default, and where its values come from.

The intake's own vocabulary (the YAML of `slots:` in an intake agent): defined beside the
parsers that read it, so the intake depends on nothing above it; the workspace's spec embeds it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SlotType = Literal["place", "date", "nights", "money", "count", "flag", "text"]


class SlotSpec(BaseModel):
    """One slot an intake agent reads from the task.

    `place`: one of `choices` (or the enum an MCP tool's argument publishes, `choices_from:
    tool.argument`), found by its name or an alias and assigned by the `cues` before it
    ("from", "to"); `date`: the first day (a parser reads "next Friday", "12-15 March", "in two
    weeks" against the run's start); `nights`: the stay's length ("3-day trip" is 2 nights);
    `money`: a ceiling ("under 1500 EUR"), in `currency`, other currencies converted by `rates`;
    `count`: how many people; `flag`: true when one of `phrases` occurs; `text`: a short phrase,
    copied from the task by the model (`extract: model`) and kept only if its words are the task's.
    """

    model_config = ConfigDict(extra="forbid")

    type: SlotType
    description: str = ""
    required: bool = False
    """Without a value (read or default), the run ends at once: nothing feasible, and why."""
    default: Any = None
    """The stated default when the task says nothing: a literal, `=expression`, or for a date a
    phrase the parser reads ("in two weeks"). The run records which slots took their default."""
    compute: str | None = None
    """`=expression` over the other slots (e.g. `=add_days(slots['start'], slots['nights'])`)."""
    choices: list[str] | None = None
    choices_from: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")
    aliases: dict[str, list[str]] = Field(default_factory=dict)
    cues: list[str] = Field(default_factory=list)
    phrases: list[str] = Field(default_factory=list)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    rates: dict[str, float] = Field(default_factory=dict)
    """money: how much one unit of another currency is worth in `currency` (GBP: 1.17)."""
    extract: Literal["parser", "model"] = "parser"
    max_length: int = Field(default=120, ge=1, le=400)

    @model_validator(mode="after")
    def _fits_type(self) -> SlotSpec:
        if self.type == "place" and not (self.choices or self.choices_from):
            raise ValueError("a place slot needs 'choices' or 'choices_from: tool.argument'")
        if self.type != "place" and (self.choices or self.choices_from or self.cues or self.aliases):
            raise ValueError("choices, choices_from, cues and aliases are for place slots")
        if self.type == "flag" and not self.phrases:
            raise ValueError("a flag slot needs 'phrases' that set it")
        if self.extract == "model" and self.type != "text":
            raise ValueError("only text slots are extracted by the model; the others have parsers")
        return self


__all__ = ["SlotSpec", "SlotType"]
