"""`SnapshotStore`: LangGraph's in-memory store, saved to one JSON file so memory survives a restart.

The default store kind (`memory`) for the embedded CLI and the single-process service: no
server, and the file holds vectors too, so a restart does not embed everything again (unless
the embedder changed; then `restore` embeds the same fields again).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from langgraph.store.base import Item, Op, PutOp, Result
from langgraph.store.base.embed import get_text_at_path, tokenize_path
from langgraph.store.memory import InMemoryStore

from moot.errors import UsageError

SNAPSHOT_FORMAT = "moot-store-snapshot/1"


class SnapshotStore(InMemoryStore):
    """An `InMemoryStore` that saves its items and vectors to one JSON file and loads them back.

    With `path` set and `autosave` on, every batch that writes saves the whole store (atomically:
    a temporary file, then a rename). That is cheap for memory about users; for bulk ingest turn
    `autosave` off and call `snapshot()` at the end.
    """

    def __init__(self, *, index: dict[str, Any] | None = None, path: str | Path | None = None, autosave: bool = True) -> None:
        super().__init__(index=index)  # type: ignore[arg-type]
        self.path = Path(path) if path is not None else None
        self.autosave = autosave
        self._lock = threading.RLock()

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        with self._lock:
            results = super().batch(ops)
        self._after(ops)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        results = await super().abatch(ops)
        self._after(ops)
        return results

    def _after(self, ops: list[Op]) -> None:
        if self.path is not None and self.autosave and any(isinstance(op, PutOp) for op in ops):
            self.snapshot()

    def snapshot(self, path: str | Path | None = None) -> Path:
        """Write every item, with its vectors, to `path` (default: the store's own path)."""
        target = self._target(path)
        with self._lock:
            items = [
                {
                    **item.dict(),
                    "vectors": {p: _pack(v) for p, v in self._vectors.get(ns, {}).get(key, {}).items()},
                }
                for ns, by_key in self._data.items()
                for key, item in by_key.items()
            ]
        dims = (self.index_config or {}).get("dims")
        payload = {"format": SNAPSHOT_FORMAT, "dims": dims, "items": items}
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, target)
        return target

    def restore(self, path: str | Path | None = None) -> int:
        """Replace the store's contents with a snapshot's; returns the number of items.

        Vectors are reused when the snapshot was made with an index of the same size, and made
        again from the same fields otherwise (the embedder changed), so search keeps working.
        """
        source = self._target(path)
        try:
            payload = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{source}: no store snapshot there (write one with snapshot())") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"{source}:{exc.lineno}: the store snapshot is not valid JSON: {exc.msg}") from None
        if not isinstance(payload, dict) or payload.get("format") != SNAPSHOT_FORMAT:
            raise UsageError(f"{source}: not a moot store snapshot (expected format {SNAPSHOT_FORMAT!r})")
        dims = (self.index_config or {}).get("dims")
        reuse = dims is not None and payload.get("dims") == dims
        to_embed: list[tuple[tuple[str, ...], str, str, str]] = []
        with self._lock:
            self._data.clear()
            self._vectors.clear()
            for raw in payload["items"]:
                item = Item(
                    value=raw["value"],
                    key=raw["key"],
                    namespace=tuple(raw["namespace"]),
                    created_at=raw["created_at"],
                    updated_at=raw["updated_at"],
                )
                self._data[item.namespace][item.key] = item
                for field_path, packed in raw.get("vectors", {}).items():
                    if reuse:
                        self._vectors[item.namespace][item.key][field_path] = _unpack(packed)
                    elif dims is not None:
                        to_embed.extend(_texts_at(item, field_path))
        if to_embed and self.embeddings is not None:
            vectors = self.embeddings.embed_documents([text for *_, text in to_embed])
            with self._lock:
                for (ns, key, field_path, _), vector in zip(to_embed, vectors, strict=True):
                    self._vectors[ns][key][field_path] = vector
        return len(payload["items"])

    def _target(self, path: str | Path | None) -> Path:
        target = Path(path) if path is not None else self.path
        if target is None:
            raise UsageError("store snapshot: no path given and the store has none (memory_store(path=...))")
        return target


def _pack(vector: list[float]) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _unpack(packed: str) -> list[float]:
    return np.frombuffer(base64.b64decode(packed), dtype="<f4").tolist()


def _texts_at(item: Item, field_path: str) -> list[tuple[tuple[str, ...], str, str, str]]:
    """The text a stored vector was made from (`path` or `path.i` for the i-th of a list)."""
    base, _, index = field_path.rpartition(".")
    if base and index.isdigit():
        texts = get_text_at_path(item.value, tokenize_path(base))
        return [(item.namespace, item.key, field_path, texts[int(index)])] if int(index) < len(texts) else []
    texts = get_text_at_path(item.value, field_path if field_path == "$" else tokenize_path(field_path))
    return [(item.namespace, item.key, field_path, texts[0])] if texts else []


__all__ = ["SNAPSHOT_FORMAT", "SnapshotStore"]
