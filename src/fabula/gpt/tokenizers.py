"""Tokenizers for our GPT: one character per token (Chinese poetry) or byte-level BPE (English).

A character vocabulary suits classical Chinese: every character is a word-like unit, the verse
constraints act per character, and a few thousand characters cover the Tang corpus. Byte-level
BPE (trained with Hugging Face `tokenizers`, as GPT-2's) suits English prose and never meets an
unknown byte. Both save to `tokenizer.json` in the model folder and load back with
`load_tokenizer`, so a checkpoint carries its own vocabulary.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from fabula.errors import ConfigError

UNK = "<unk>"
EOT = "\n"  # the character tokenizer's document separator: one poem per line


class Tokenizer(Protocol):
    kind: str
    eot_id: int

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def token_text(self, token_id: int) -> str: ...

    def save(self, folder: Path) -> Path: ...


class CharTokenizer:
    """Id 0 is <unk>, id 1 the document separator "\\n", then characters by falling frequency."""

    kind = "char"

    def __init__(self, tokens: list[str]) -> None:
        if tokens[:2] != [UNK, EOT]:
            raise ConfigError("a character vocabulary must start with <unk> and the newline separator")
        self.tokens = tokens
        self.ids = {token: i for i, token in enumerate(tokens)}
        self.eot_id = 1

    @classmethod
    def train(cls, texts: Iterable[str], min_count: int = 1, max_size: int | None = None) -> CharTokenizer:
        """Characters seen at least `min_count` times, most frequent first, at most `max_size` in all."""
        counts = Counter(char for text in texts for char in text if char != EOT)
        ranked = [char for char, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]
        if max_size is not None:
            ranked = ranked[: max(0, max_size - 2)]
        return cls([UNK, EOT, *ranked])

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        return [self.ids.get(char, 0) for char in text]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.tokens[i] if 0 < i < len(self.tokens) else "□" for i in ids)

    def token_text(self, token_id: int) -> str:
        return self.tokens[token_id]

    def save(self, folder: Path) -> Path:
        path = folder / "tokenizer.json"
        path.write_text(json.dumps({"kind": self.kind, "tokens": self.tokens}, ensure_ascii=False))
        return path


class BPETokenizer:
    """Byte-level BPE, GPT-2 style, with <|endoftext|> as the document separator."""

    kind = "bpe"
    EOT_TOKEN = "<|endoftext|>"

    def __init__(self, tokenizer: object) -> None:
        self.inner = tokenizer
        eot = tokenizer.token_to_id(self.EOT_TOKEN)  # type: ignore[attr-defined]
        if eot is None:
            raise ConfigError(f"BPE tokenizer has no {self.EOT_TOKEN} token")
        self.eot_id = int(eot)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 4096) -> BPETokenizer:
        from tokenizers import ByteLevelBPETokenizer

        if vocab_size < 300:
            raise ConfigError(f"vocab_size={vocab_size}: byte-level BPE needs at least 300 (256 bytes + merges)")
        bpe = ByteLevelBPETokenizer()
        bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2, special_tokens=[cls.EOT_TOKEN])
        return cls(bpe._tokenizer)  # the plain `tokenizers.Tokenizer` inside

    @property
    def vocab_size(self) -> int:
        return int(self.inner.get_vocab_size())  # type: ignore[attr-defined]

    def encode(self, text: str) -> list[int]:
        return list(self.inner.encode(text).ids)  # type: ignore[attr-defined]

    def decode(self, ids: Iterable[int]) -> str:
        return str(self.inner.decode(list(ids), skip_special_tokens=False))  # type: ignore[attr-defined]

    def token_text(self, token_id: int) -> str:
        return str(self.inner.id_to_token(token_id))  # type: ignore[attr-defined]

    def vocab_and_merges(self) -> tuple[list[str], list[str]]:
        """Tokens in id order (byte-level spelling) and merges as "a b" lines, for the GGUF export."""
        data = json.loads(self.inner.to_str())  # type: ignore[attr-defined]
        vocab = data["model"]["vocab"]
        tokens = [""] * len(vocab)
        for token, index in vocab.items():
            tokens[index] = token
        for added in data.get("added_tokens", []):
            if added["id"] < len(tokens):
                tokens[added["id"]] = added["content"]
        merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
        return tokens, merges

    def save(self, folder: Path) -> Path:
        path = folder / "tokenizer.json"
        data = json.loads(self.inner.to_str())  # type: ignore[attr-defined]
        data["fabula_kind"] = self.kind
        path.write_text(json.dumps(data, ensure_ascii=False))
        return path


def load_tokenizer(folder: Path) -> CharTokenizer | BPETokenizer:
    path = Path(folder) / "tokenizer.json"
    if not path.is_file():
        raise ConfigError(f"{path} is missing: a fabula model folder carries its tokenizer.json")
    data = json.loads(path.read_text())
    if data.get("kind") == "char":
        return CharTokenizer(list(data["tokens"]))
    if data.get("fabula_kind") == "bpe":
        from tokenizers import Tokenizer as HFTokenizer

        data.pop("fabula_kind")
        return BPETokenizer(HFTokenizer.from_str(json.dumps(data)))
    raise ConfigError(f"{path}: unknown tokenizer kind (expected a fabula char or bpe tokenizer)")
