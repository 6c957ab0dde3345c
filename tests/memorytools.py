"""What the knowledge-update tests share: a dated timeline and chatter between the facts."""

DAY = 86_400.0
T0 = 1_683_500_000.0  # 2023-05-07
CHATTER = ["The weather was lovely at the beach.", "I tried a new pumpkin recipe.", "Work has been hectic lately."]
"""turns that state no fact: what sits between a fact and its change"""
