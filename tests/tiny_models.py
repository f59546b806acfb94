"""A tiny randomly initialised causal LM and a byte-level BPE tokenizer, built in seconds offline.

They exercise the real hf engine code path (loading, chat template, decode loop) without weights
from a hub. Output is gibberish, which is fine: the tests check mechanics, not prose.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "The lighthouse keeper counted ships. The sea returned a shell to her doorstep each morning.",
    "Snow fell on the sleeping city; the streets were quiet as breath and the lamps hummed.",
    "A fox who collects keys opened every door in the village but one, which was painted blue.",
] * 20

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_llama(
    target: Path, chat: bool = True, vocab_size: int = 300, init_range: float = 0.02, context: int = 256
) -> Path:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = ByteLevelBPETokenizer()
    raw.train_from_iterator(
        CORPUS, vocab_size=vocab_size, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|im_end|>" if chat else "<|endoftext|>")
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    import torch

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        initializer_range=init_range,
    )
    model = LlamaForCausalLM(config)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def build_tiny_gpt2(target: Path, vocab_size: int = 300) -> Path:
    """A GPT-2-layout checkpoint (the seed project's path): no chat template, plain continuation."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    raw = ByteLevelBPETokenizer()
    raw.train_from_iterator(CORPUS, vocab_size=vocab_size, special_tokens=["<|endoftext|>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|endoftext|>")
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=2,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    target.mkdir(parents=True, exist_ok=True)
    GPT2LMHeadModel(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
