"""JSON-Schema-constrained decoding on steerable engines: a logits processor that masks every token
which would take the text outside the schema.

llguidance (Microsoft's grammar engine, the one behind guidance) compiles the schema against the
model's tokenizer into a token-level matcher; each step we advance every candidate's matcher by
the token it just took, ask for the bitmask of allowed next tokens and set the rest to -inf. When
the JSON is complete, only the end-of-sequence tokens are allowed, so the output is valid by
construction, as on llama.cpp with its JSON-schema grammars.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fabula.errors import InvalidParam

if TYPE_CHECKING:
    import torch

_TOKENIZERS: dict[int, Any] = {}
COMPACT: Any = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def ll_tokenizer(hf_tokenizer: Any, eos_ids: list[int], vocab_size: int) -> Any:
    """The llguidance view of a Hugging Face fast tokenizer, built once per tokenizer."""
    import llguidance.hf

    key = id(hf_tokenizer)
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = llguidance.hf.from_tokenizer(hf_tokenizer, n_vocab=vocab_size, eos_token=eos_ids)
    return _TOKENIZERS[key]


class JsonSchemaProcessor:
    """Masks logits to the tokens the schema allows next, one matcher per candidate row."""

    def __init__(self, schema: Mapping[str, Any], tokenizer: Any, rows: int, prompt_length: int) -> None:
        import llguidance
        import llguidance.torch

        # compact JSON: free whitespace lets a small model spend hundreds of tokens on indentation
        grammar = llguidance.LLMatcher.grammar_from_json_schema(json.dumps(schema), overrides=COMPACT)
        self.matchers = [llguidance.LLMatcher(tokenizer, grammar, log_level=0) for _ in range(rows)]
        if self.matchers[0].is_error():
            raise InvalidParam("json_schema", schema.get("$id", "(inline)"), self.matchers[0].get_error())
        self.vocab = tokenizer.vocab_size
        self.mask = llguidance.torch.allocate_token_bitmask(rows, self.vocab)
        self.seen = prompt_length
        self._fill = llguidance.torch.fill_next_token_bitmask
        self._apply = llguidance.torch.apply_token_bitmask_inplace

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] > self.seen:  # advance each row by the token it just took
            for matcher, token in zip(self.matchers, input_ids[:, -1].tolist(), strict=True):
                if not matcher.is_stopped():
                    matcher.consume_token(token)
            self.seen = input_ids.shape[1]
        for row, matcher in enumerate(self.matchers):
            if matcher.is_error():
                raise InvalidParam(
                    "json_schema", "(the form's schema)", f"decoding left the schema: {matcher.get_error()}"
                )
            self._fill(matcher, self.mask, row)
        out = scores.clone()
        self._apply(out[:, : self.vocab], self.mask)
        out[:, self.vocab :] = float("-inf")  # padding rows of the embedding: never a real token
        return out
