"""Attention maps of our GPT: where each token looked, per layer and head, as PNG heat maps.

The maps are the softmax(q kᵀ / √d_k) weights of `fabula.gpt.model`, taken from the written-out
attention path (never the fused kernel, which does not expose them). Axes are labelled with the
tokens themselves; Chinese labels need a CJK font, taken from the system when it has one and
otherwise fetched once from Debian's `fonts-wqy-microhei` into FABULA_HOME/fonts.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch

from fabula.errors import ConfigError
from fabula.gpt.export import load_gpt

FONT_PACKAGE = "fonts-wqy-microhei"


def attention_maps(folder: Path, text: str) -> tuple[list[str], torch.Tensor]:
    """Token labels and the weights, shaped (layers, heads, T, T)."""
    model, tokenizer, _ = load_gpt(folder, fused=False)
    ids = tokenizer.encode(text)
    if not ids:
        raise ConfigError("--text is empty: give the text whose attention you want to see")
    if len(ids) > model.config.block_size:
        raise ConfigError(f"--text is {len(ids)} tokens; this model sees at most {model.config.block_size}: shorten it")
    with torch.no_grad():
        _, _, maps = model(torch.tensor([ids]), return_attention=True)
    labels = [tokenizer.decode([i]) for i in ids]
    return labels, torch.stack([m[0] for m in maps])  # (L, H, T, T)


def _cjk_font(home: Path) -> Any:
    from matplotlib import font_manager

    for font in font_manager.fontManager.ttflist:
        if any(key in font.name for key in ("WenQuanYi", "Noto Sans CJK", "Noto Serif CJK", "SimHei", "Source Han")):
            return font_manager.FontProperties(fname=font.fname)
    target = home / "fonts" / "wqy-microhei.ttc"
    if not target.is_file() and shutil.which("apt-get") and shutil.which("dpkg-deb"):
        with tempfile.TemporaryDirectory(prefix="fabula-font-") as scratch:
            work = Path(scratch)
            got = subprocess.run(["apt-get", "download", FONT_PACKAGE], cwd=work, capture_output=True, timeout=300)
            debs = sorted(work.glob(f"{FONT_PACKAGE}_*.deb"))
            if got.returncode == 0 and debs:
                subprocess.run(["dpkg-deb", "-x", str(debs[-1]), "root"], cwd=work, capture_output=True, timeout=120)
                found = next((work / "root").rglob("*.ttc"), None)
                if found is not None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(found, target)
    return font_manager.FontProperties(fname=str(target)) if target.is_file() else None


def plot_attention(
    folder: Path,
    text: str,
    out: Path,
    home: Path,
    layer: int | None = None,
    head: int | None = None,
) -> dict[str, Any]:
    """A grid of heat maps (one per layer and head), or one large map for --layer/--head."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, maps = attention_maps(folder, text)
    n_layer, n_head = maps.shape[0], maps.shape[1]
    for name, value, limit in (("layer", layer, n_layer), ("head", head, n_head)):
        if value is not None and not 0 <= value < limit:
            raise ConfigError(f"--{name} {value}: this model has {name}s 0..{limit - 1}")
    layers = [layer] if layer is not None else list(range(n_layer))
    heads = [head] if head is not None else list(range(n_head))
    font = _cjk_font(home) if any(ord(ch) > 0x2E80 for ch in text) else None
    single = len(layers) == 1 and len(heads) == 1
    size = 7.0 if single else 2.2
    fig, axes = plt.subplots(len(layers), len(heads), figsize=(size * len(heads), size * len(layers)), squeeze=False)
    show_labels = single or len(labels) <= 24
    for r, li in enumerate(layers):
        for c, hi in enumerate(heads):
            ax = axes[r][c]
            ax.imshow(maps[li, hi].numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_title(f"layer {li} head {hi}", fontsize=9 if single else 7)
            if show_labels:
                ticks = range(len(labels))
                fontsize = 9 if single else 5
                ax.set_xticks(
                    ticks, [repr(t)[1:-1] for t in labels], fontproperties=font, fontsize=fontsize, rotation=90
                )
                ax.set_yticks(ticks, [repr(t)[1:-1] for t in labels], fontproperties=font, fontsize=fontsize)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
    fig.suptitle(f"attention of {folder.name}: row = query token, column = key token it attends to", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return {
        "path": str(out),
        "tokens": len(labels),
        "layers": layers,
        "heads": heads,
        "cjk_font": font is not None,
    }
