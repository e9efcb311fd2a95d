"""The sentence vector an answer's analysis carries: what themes group by, never re-running the model.

Encoder-agnostic on purpose: the encoder hands over its pooled layers, we keep the last one's mean,
L2-normalised (cosine similarity is then a dot product, and int8 storage loses little).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def sentence_vectors(layers: FloatArray) -> FloatArray:
    """(batch, layers, dim) pooled hidden states -> (batch, dim) unit vectors of the last layer."""
    last = np.asarray(layers[:, -1, :] if layers.ndim == 3 else layers, dtype=np.float32)
    return normalised(last)


def normalised(vectors: FloatArray) -> FloatArray:
    """Rows scaled to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
