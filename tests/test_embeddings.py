"""Which embedding model reads which language: MiniLM for English, multilingual-e5 for Chinese."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fabula.embeddings import choose_model, embed

POEMS = ["床前明月光，疑是地上霜。举头望明月，低头思故乡。", "今天股市大涨，投资者情绪高涨，成交量创新高。"]
QUERY = "一首思念故乡的诗"


def test_the_model_follows_the_script() -> None:
    assert choose_model(POEMS) == "e5"
    assert choose_model(["A poem about missing home.", "Stocks rose sharply today."]) == "minilm"
    assert choose_model(["Li Bai wrote 静夜思 in 726."]) == "minilm"  # mostly Latin letters


def test_e5_finds_the_homesick_poem_where_minilm_cannot(tmp_path: Path) -> None:
    e5 = embed([QUERY, *POEMS], tmp_path)
    assert int(np.argmax(e5[1:] @ e5[0])) == 0  # the poem, not the market report
    minilm = embed([QUERY, *POEMS], tmp_path, model="minilm")
    assert int(np.argmax(minilm[1:] @ minilm[0])) == 1  # most characters are [UNK] to MiniLM
    again = embed([QUERY, *POEMS], tmp_path)
    assert np.allclose(again, e5) and (tmp_path / "e5.npz").is_file() and (tmp_path / "minilm.npz").is_file()
