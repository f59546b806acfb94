"""Search-based decoding on a Transformers model: beam search (Transformers' own) and
contrastive search (Su et al. 2022), written here since Transformers 5 moved it out of the core.

Contrastive search picks, among the k most likely next tokens, the one maximising
(1 - alpha) * p(token) - alpha * max cosine(its hidden state, every earlier hidden state):
likely, but unlike what came before. The k candidates run as one batch on a copy of the cache.
"""

from __future__ import annotations

from typing import Any


def beam_search(model: Any, prompt: list[int], beams: int, max_new: int, eos: int | None) -> list[int]:
    import torch

    with torch.inference_mode():
        out = model.generate(
            torch.tensor([prompt]),
            num_beams=beams,
            do_sample=False,
            max_new_tokens=max_new,
            early_stopping=True,
            pad_token_id=eos,
            attention_mask=torch.ones(1, len(prompt)),
        )
    return [int(t) for t in out[0, len(prompt) :]]


def contrastive_search(
    model: Any, prompt: list[int], k: int, alpha: float, max_new: int, eos: set[int], cache_name: str = "cache"
) -> list[int]:
    import torch

    tokens: list[int] = []
    with torch.inference_mode():
        out = model(input_ids=torch.tensor([prompt]), use_cache=True, output_hidden_states=True)
        past = getattr(out, cache_name)
        context = out.hidden_states[-1][0]  # [T, H]
        logits = out.logits[0, -1].float()  # [V]
        for _ in range(max_new):
            probs = logits.softmax(-1)
            top_probs, top_ids = probs.topk(k)  # [k]
            past.batch_repeat_interleave(k)
            step = model(input_ids=top_ids[:, None], use_cache=True, output_hidden_states=True, **{cache_name: past})
            hidden = step.hidden_states[-1][:, -1, :]  # [k, H]
            sims = torch.nn.functional.cosine_similarity(hidden[:, None, :], context[None, :, :], dim=-1)  # [k, T]
            score = (1 - alpha) * top_probs - alpha * sims.max(dim=-1).values  # [k]
            best = int(score.argmax())
            past = getattr(step, cache_name)
            past.batch_select_indices(torch.tensor([best]))
            token = int(top_ids[best])
            if token in eos:
                break
            tokens.append(token)
            context = torch.cat([context, hidden[best : best + 1]], dim=0)
            logits = step.logits[best, -1].float()
    return tokens
