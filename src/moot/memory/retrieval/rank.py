"""Array functions that rank rows: score fusion, reciprocal-rank fusion, top-k selection.

All take full-length score vectors and a boolean mask of the rows that may be returned, and
work in a few numpy calls whatever the number of rows.
"""

from __future__ import annotations

import numpy as np


def fuse_scores(dense: np.ndarray, lexical: np.ndarray, mask: np.ndarray, *, w_dense: float = 1.0,
                w_lexical: float = 0.5) -> np.ndarray:
    """Weighted sum of min-max-scaled cosine and max-scaled BM25 over the masked rows.

    Measured on LoCoMo it beats reciprocal-rank fusion (0.80 against 0.78 all-evidence recall):
    rank fusion throws away how far apart scores are, and lexical evidence is often decisive
    for one or two rows and meaningless for the rest.
    """
    if not mask.any():
        return np.zeros(len(mask))
    d = np.where(mask, dense, np.inf)
    low = float(d.min())
    d = np.where(mask, dense, low)
    high = float(d.max())
    scaled = (d - low) / max(high - low, 1e-9)
    top = float(lexical[mask].max())
    fused = w_dense * scaled + (w_lexical / top) * lexical if top > 0 else w_dense * scaled
    return np.where(mask, fused, 0.0)


def rrf(dense: np.ndarray, lexical: np.ndarray, mask: np.ndarray, *, k0: float = 60.0,
        w_dense: float = 1.0, w_lexical: float = 1.0, depth: int = 1000) -> np.ndarray:
    """Reciprocal-rank fusion of two score vectors over the masked rows' top `depth`, vectorised."""
    fused = np.zeros(len(mask), dtype=np.float64)
    for scores, weight, rows_mask in ((dense, w_dense, mask), (lexical, w_lexical, mask & (lexical > 0))):
        if weight:
            order = top_rows(scores, rows_mask, depth)
            fused[order] += weight / (k0 + np.arange(1, len(order) + 1))
    return fused


def top_rows(scores: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest masked scores, best first (argpartition, then a small sort)."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if mask.all():
        if len(scores) <= k:
            return np.argsort(-scores, kind="stable")
        rows = np.argpartition(-scores, k - 1)[:k]
    else:
        rows = np.flatnonzero(mask)
        if len(rows) > k:
            rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
    return rows[np.argsort(-scores[rows], kind="stable")]


__all__ = ["fuse_scores", "rrf", "top_rows"]
