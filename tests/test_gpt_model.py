"""Our GPT: the written-out attention equals the fused kernel, masking is causal, configs are checked."""

from __future__ import annotations

import pytest
import torch

from fabula.gpt.model import GPT, GPTConfig


def _pair(dropout: float = 0.0) -> tuple[GPT, GPT]:
    torch.manual_seed(0)
    explicit = GPT(
        GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32, fused=False, dropout=dropout)
    )
    fused = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32, fused=True, dropout=dropout))
    fused.load_state_dict(explicit.state_dict())
    return explicit.eval(), fused.eval()


def test_written_out_attention_matches_fused_kernel() -> None:
    explicit, fused = _pair()
    idx = torch.randint(0, 50, (3, 16), generator=torch.Generator().manual_seed(1))
    targets = torch.randint(0, 50, (3, 16), generator=torch.Generator().manual_seed(2))
    logits_a, loss_a, _ = explicit(idx, targets)
    logits_b, loss_b, _ = fused(idx, targets)
    torch.testing.assert_close(logits_a, logits_b, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(loss_a, loss_b, atol=1e-6, rtol=1e-5)
    # gradients agree too, so training on either path is the same training
    loss_a.backward()
    loss_b.backward()
    for (name, p), q in zip(explicit.named_parameters(), fused.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-3, msg=name)


def test_attention_is_causal_and_rows_are_distributions() -> None:
    explicit, _ = _pair()
    idx = torch.randint(0, 50, (1, 10), generator=torch.Generator().manual_seed(3))
    changed = idx.clone()
    changed[0, 7] = (changed[0, 7] + 1) % 50
    logits, _, maps = explicit(idx, return_attention=True)
    logits_changed, _, _ = explicit(changed)
    # a later token cannot change earlier predictions
    torch.testing.assert_close(logits[0, :7], logits_changed[0, :7])
    assert not torch.allclose(logits[0, 7:], logits_changed[0, 7:])
    assert len(maps) == 2 and maps[0].shape == (1, 4, 10, 10)
    for weights in maps:
        torch.testing.assert_close(weights.sum(-1), torch.ones(1, 4, 10))
        assert torch.all(weights.triu(diagonal=1) == 0)


def test_sequence_longer_than_block_is_refused() -> None:
    explicit, _ = _pair()
    with pytest.raises(ValueError, match="block_size=16"):
        explicit(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_embd": 30, "n_head": 4}, "divisible"),
        ({"n_layer": 0}, "n_layer=0"),
        ({"vocab_size": True}, "vocab_size=True"),
        ({"dropout": 1.0}, "dropout=1.0"),
    ],
)
def test_bad_config_names_the_value(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GPTConfig(**kwargs)  # type: ignore[arg-type]


def test_weights_are_tied_and_flops_are_counted() -> None:
    model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32))
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    per_layer = 12 * 32 * 32 + 13 * 32  # attention + MLP matrices and their biases, two layer norms
    assert model.num_parameters() == 50 * 32 + 16 * 32 + 2 * per_layer + 2 * 32
    assert model.flops_per_token() > 6 * 2 * 12 * 32 * 32
