"""The one chart the evaluations draw: diversity against perplexity (log scale), saved as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def diversity_chart(title: str, xlabel: str = "perplexity under the model (log scale)") -> tuple[Any, Any]:
    """A figure and axes set up for diversity (y) against perplexity (x, log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel("diversity  ∏(1 − rep-n), n = 2..4")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return fig, ax


def save_chart(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
