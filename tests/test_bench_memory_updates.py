"""The knowledge-update benchmark's data and scoring rule (bench/memory/updates.py): seeded,
as large as issue 16 asks, and fair to every system."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "memory"))

from updates import judge, shown  # noqa: E402
from updates_data import TEMPLATES, Fact, generate  # noqa: E402


@pytest.mark.parametrize("templates", sorted(TEMPLATES))
def test_the_dialogues_are_seeded_and_as_large_as_the_issue_asks(templates: str) -> None:
    dialogues = generate(16, templates)
    assert dialogues == generate(16, templates)
    facts = [fact for d in dialogues for fact in d.facts]
    changed = [fact for fact in facts if len(fact.values) > 1]
    assert len(facts) >= 200 and len(changed) >= len(facts) / 3
    assert all(2 <= len(f.values) <= 4 and len(set(f.values)) == len(f.values) for f in changed)
    for d in dialogues:
        said = [t.text for t in d.turns]
        for fact in d.facts:
            for value in fact.values:  # each value is stated once, in its own statement
                assert sum(shown(value, text) for text in said) == 1, (d.user, fact, value)


def test_a_stale_value_counts_unless_it_is_marked_as_history() -> None:
    fact = Fact("Ana", "home", ("Lisbon", "Porto"), "Where does Ana live now?")
    assert judge(fact, "[2023-06-01] Ana: I moved to Porto.") == (True, False)
    assert judge(fact, "[2023-05-01] Ana: I live in Lisbon.\n[2023-06-01] Ana: I moved to Porto.") == (True, True)
    assert judge(fact, "- [2023-06-01] Ana: I moved to Porto. (was: Lisbon, until 2023-06-01)") == (True, False)
    assert judge(fact, "Ana: I live in (was: Lisbon, until 2023-06-01).") == (False, False)
    assert judge(fact, "Ana visited Portobello.") == (False, False)  # whole words only
