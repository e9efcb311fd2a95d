"""The encoder's LoRA adapter: what ships is exactly what was trained, and mismatches fail at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sentiment import ClassifierSettings, load_model
from sentiment.adapter import Adapter, add_lora, save_adapter


def _tiny_encoder(seed: int = 0) -> Any:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32
    )
    return BertModel(config).eval()


def _hidden(model: Any) -> Any:
    import torch

    ids = torch.tensor([[2, 7, 9, 11, 3], [2, 5, 3, 0, 0]])
    mask = (ids != 0).long()
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask).last_hidden_state


def test_merged_adapter_reproduces_the_trained_lora_model(tmp_path: Path) -> None:
    import torch

    trained = _tiny_encoder()
    plain = _hidden(trained)
    wrapped = add_lora(trained, rank=4, alpha=8.0, dropout=0.0, seed=1)
    assert len(wrapped) == 2 * 6  # q, k, v, attention output, intermediate, output per block
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for module in wrapped.values():
            module.up.copy_(torch.randn(module.up.shape, generator=generator) * 0.1)
    tuned = _hidden(trained)
    assert not torch.allclose(tuned, plain, atol=1e-3)  # the adapter changes what the encoder says

    save_adapter(
        tmp_path / "adapter.npz",
        {name: m.down.detach().numpy() for name, m in wrapped.items()},
        {name: m.up.detach().numpy() for name, m in wrapped.items()},
        2.0,
    )
    fresh = _tiny_encoder()
    Adapter.load(tmp_path / "adapter.npz").merge_into(fresh)
    assert torch.allclose(_hidden(fresh), tuned, atol=2e-3)  # float16 on disk, no measurable loss


def test_adapter_that_does_not_fit_the_encoder_is_refused(tmp_path: Path) -> None:
    save_adapter(
        tmp_path / "other.npz",
        {"encoder.layer.0.attention.self.query": np.zeros((4, 384), dtype=np.float32)},
        {"encoder.layer.0.attention.self.query": np.zeros((384, 4), dtype=np.float32)},
        2.0,
    )
    with pytest.raises(ValueError, match="does not fit"):
        Adapter.load(tmp_path / "other.npz").merge_into(_tiny_encoder())
    np.savez(tmp_path / "not-an-adapter.npz", scale=np.asarray(1.0))
    with pytest.raises(ValueError, match="not a LoRA adapter"):
        Adapter.load(tmp_path / "not-an-adapter.npz")


def test_heads_trained_on_another_adapter_fail_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"sentiment\.heads_path and sentiment\.adapter_path"):
        load_model(ClassifierSettings(adapter_path="none", cache_dir=str(tmp_path)))


def test_onnx_cache_is_never_shared_between_adapters(tmp_path: Path) -> None:
    from sentiment.adapter import DEFAULT_ADAPTER_PATH
    from sentiment.encoder import _fingerprint, default_encoder_path

    shipped = Adapter.load(DEFAULT_ADAPTER_PATH)
    assert _fingerprint(default_encoder_path(), None) != _fingerprint(default_encoder_path(), shipped)


@pytest.mark.parametrize("module", ["sentiment.finetune", "sentiment.train"])
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        # UMSAB, TweetEval and EmoEvent may be measured on, never trained on (their SOURCE.md).
        (["--sources", "cx_en,umsab_spanish"], "not allowed for training: ['umsab_spanish']"),
        # A typo in --weights must not silently train with the default weights.
        (["--weights", "ucii=3"], "unknown source 'ucii'"),
    ],
)
def test_training_refuses_bad_sources_before_any_work(
    module: str, arguments: list[str], message: str, tmp_path: Path
) -> None:
    import importlib

    from click.testing import CliRunner

    command = importlib.import_module(module).main
    result = CliRunner().invoke(command, ["--data", str(tmp_path), *arguments, "--out", str(tmp_path / "w")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "w").exists()
