"""What callers hand memory, checked at the door: text that is valid UTF-8, budgets that make sense.

Bad input must end in a clean answer or a clear error before anything is written: a lone
surrogate in a turn would otherwise fail inside the tokenizer or when Redis encodes it, after
part of a batch reached the store.
"""

from __future__ import annotations

from moot.errors import UsageError

REPLACEMENT = "\ufffd"


def clean_text(text: str | bytes) -> str:
    """`text` as valid UTF-8: bytes are decoded, undecodable bytes and lone surrogates become U+FFFD.

    Bytes read with `errors="surrogateescape"` come back as the bytes they were, then decoded
    with replacement; any other lone surrogate is replaced as it is.
    """
    if isinstance(text, bytes):
        return text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise UsageError(f"memory: text must be str or bytes, not {type(text).__name__}")
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    except UnicodeEncodeError:
        return "".join(REPLACEMENT if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def check_budget(budget_tokens: int) -> int:
    """A recall budget: 0 (or too small for any item) recalls nothing; a negative one is a mistake."""
    if isinstance(budget_tokens, bool) or not isinstance(budget_tokens, int):
        raise UsageError(f"memory recall: budget_tokens must be an int, not {budget_tokens!r}")
    if budget_tokens < 0:
        raise UsageError(f"memory recall: budget_tokens must be >= 0, not {budget_tokens}")
    return budget_tokens


__all__ = ["REPLACEMENT", "check_budget", "clean_text"]
