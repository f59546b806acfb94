"""Load a fabula GPT folder and export it to a Hugging Face checkpoint or a llama.cpp GGUF.

Both exports are lossless (float32): the GPT-2 layout needs only the projection matrices
transposed for Hugging Face's Conv1D, and llama.cpp's `gpt2` architecture takes our tensors as
they are. The tokenizer travels with each export:
- character vocabularies become a `tokenizers` WordLevel model that splits text into characters
  (Hugging Face), and a SentencePiece-style ("llama") vocabulary of single characters without the
  leading-space convention (GGUF), so llama.cpp tokenizes one character per token as we do;
- byte-level BPE vocabularies go across as they are (GGUF model "gpt2", with merges).
The newline (character models) or <|endoftext|> (BPE) is the end-of-text token in both.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from fabula.errors import ConfigError
from fabula.gpt.model import GPT, GPTConfig
from fabula.gpt.tokenizers import BPETokenizer, CharTokenizer, load_tokenizer

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def is_gpt_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file() and _is_fabula(path)


def _is_fabula(path: Path) -> bool:
    try:
        data = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"data", "model", "train"} <= set(data)


def load_gpt(folder: Path, fused: bool | None = None) -> tuple[GPT, CharTokenizer | BPETokenizer, dict[str, Any]]:
    """Model (float32, eval mode), tokenizer and the training config saved in `folder`."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not is_gpt_folder(folder):
        raise ConfigError(f"{folder} is not a fabula GPT folder (config.json with [model], model.safetensors)")
    from fabula.model_files import check_safetensors

    check_safetensors(folder / "model.safetensors")
    try:
        config = json.loads((folder / "config.json").read_text())
        model_config = GPTConfig.from_dict(config["model"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{folder / 'config.json'} is damaged ({exc}); train the model again") from None
    if fused is not None:
        model_config.fused = fused
    model = GPT(model_config)
    state = {k: v.to(torch.float32) for k, v in load_file(str(folder / "model.safetensors")).items()}
    state["lm_head.weight"] = state["transformer.wte.weight"]
    model.load_state_dict(state)
    return model.eval(), load_tokenizer(folder), config


def _hf_tokenizer(tokenizer: CharTokenizer | BPETokenizer) -> Any:
    from tokenizers import Regex, decoders, pre_tokenizers
    from tokenizers import Tokenizer as RawTokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    if isinstance(tokenizer, CharTokenizer):
        raw = RawTokenizer(WordLevel({t: i for i, t in enumerate(tokenizer.tokens)}, unk_token="<unk>"))
        raw.decoder = decoders.Fuse()  # type: ignore[assignment]
        # "[\s\S]", not ".", so that the newline (end of text) is a character token too
        raw.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # type: ignore[assignment]
        return PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", eos_token="\n", bos_token="\n")
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer.inner,
        eos_token=BPETokenizer.EOT_TOKEN,
        bos_token=BPETokenizer.EOT_TOKEN,
    )


def _portable_tokenizer_config(path: Path) -> None:
    """Name the tokenizer class both transformers 4.x and 5.x know. 5.x saves its own new name
    (`TokenizersBackend`, with a `backend` key), which 4.x cannot load; `PreTrainedTokenizerFast`
    is the class in 4.x and an alias of the same class in 5.x, and reads the same tokenizer.json."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data["tokenizer_class"] = "PreTrainedTokenizerFast"
    data.pop("backend", None)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def export_hf(folder: Path, out: Path) -> Path:
    """A `GPT2LMHeadModel` folder that `transformers` loads with AutoModelForCausalLM."""
    from transformers import GPT2Config, GPT2LMHeadModel

    model, tokenizer, _ = load_gpt(folder)
    cfg = model.config
    hf_config = GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.block_size,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        bos_token_id=tokenizer.eot_id,
        eos_token_id=tokenizer.eot_id,
        tie_word_embeddings=True,
    )
    hf = GPT2LMHeadModel(hf_config)
    state = {}
    for name, tensor in model.state_dict().items():
        state[name] = tensor.t().contiguous() if name.endswith(CONV1D) else tensor
    missing, unexpected = hf.load_state_dict(state, strict=False)
    real_missing = [m for m in missing if not m.endswith(".attn.bias") and not m.endswith(".attn.masked_bias")]
    if real_missing or unexpected:
        raise ConfigError(f"HF export: missing {real_missing}, unexpected {unexpected}")
    hf.generation_config.eos_token_id = tokenizer.eot_id
    hf.generation_config.pad_token_id = tokenizer.eot_id
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    hf.save_pretrained(tmp)
    _hf_tokenizer(tokenizer).save_pretrained(tmp)
    _portable_tokenizer_config(tmp / "tokenizer_config.json")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def export_gguf(folder: Path, out: Path) -> Path:
    """A float32 GGUF of architecture `gpt2` that llama.cpp loads and runs."""
    import gguf
    import numpy as np

    model, tokenizer, config = load_gpt(folder)
    cfg = model.config
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch="gpt2")
    writer.add_name(str(config.get("name", folder.name)))
    writer.add_context_length(cfg.block_size)
    writer.add_embedding_length(cfg.n_embd)
    writer.add_feed_forward_length(4 * cfg.n_embd)
    writer.add_block_count(cfg.n_layer)
    writer.add_head_count(cfg.n_head)
    writer.add_layer_norm_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    extra_rows = 0
    if isinstance(tokenizer, CharTokenizer):
        # llama.cpp reads a character vocabulary as SentencePiece: a space is looked up as "▁", and
        # a character the vocabulary lacks falls back to byte tokens <0x..>. Without both, any
        # prompt with a space (or an unseen character) failed (`_Map_base::at`). The 256 byte
        # tokens share the unknown token's rows, so they are as unlikely as <unk> and never win a
        # tie against it (it comes first): greedy decoding is unchanged.
        writer.add_tokenizer_model("llama")
        writer.add_tokenizer_pre("default")
        pieces = [t.replace(" ", "\u2581").encode("utf-8") for t in tokenizer.tokens]
        pieces += [f"<0x{b:02X}>".encode() for b in range(256)]
        extra_rows = 256
        writer.add_token_list(pieces)
        writer.add_token_scores([0.0] + [-float(i) for i in range(1, tokenizer.vocab_size)] + [-1e9] * 256)
        types = [gguf.TokenType.NORMAL] * tokenizer.vocab_size + [gguf.TokenType.BYTE] * 256
        types[0] = gguf.TokenType.UNKNOWN
        writer.add_token_types(types)
        writer.add_unk_token_id(0)
        writer.add_add_space_prefix(False)
    else:
        tokens, merges = tokenizer.vocab_and_merges()
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("gpt-2")
        writer.add_token_list(tokens)
        types = [gguf.TokenType.NORMAL] * len(tokens)
        types[tokenizer.eot_id] = gguf.TokenType.CONTROL
        writer.add_token_types(types)
        writer.add_token_merges(merges)
    writer.add_bos_token_id(tokenizer.eot_id)
    writer.add_eos_token_id(tokenizer.eot_id)
    writer.add_add_bos_token(False)

    names = {
        "transformer.wte.weight": "token_embd.weight",
        "transformer.wpe.weight": "position_embd.weight",
        "transformer.ln_f.weight": "output_norm.weight",
        "transformer.ln_f.bias": "output_norm.bias",
    }
    block_names = {
        "ln_1": "attn_norm",
        "attn.c_attn": "attn_qkv",
        "attn.c_proj": "attn_output",
        "ln_2": "ffn_norm",
        "mlp.c_fc": "ffn_up",
        "mlp.c_proj": "ffn_down",
    }
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":
            target = "output.weight"
        elif name in names:
            target = names[name]
        else:
            _, _, index, rest = name.split(".", 3)
            module, _, kind = rest.rpartition(".")
            target = f"blk.{index}.{block_names[module]}.{kind}"
        weights = tensor.detach().to(torch.float32).numpy().astype(np.float32)
        if extra_rows and target in ("token_embd.weight", "output.weight"):  # the byte tokens' rows
            weights = np.concatenate([weights, np.repeat(weights[:1], extra_rows, axis=0)])
        writer.add_tensor(target, weights)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)
    return out
