"""Random walks through a character-level verse constraint, for tests that validate every text it
completes: the constraint must admit only what the validator passes."""

from __future__ import annotations

import random
from typing import Any

# a few hundred common characters of classical verse, both tones, many rhymes
POOL = (
    "春花秋月山水风云江天人心日夜长空明光来归时年中东西南北青白红黄金玉清寒香深城楼台门路"
    "家乡客行远近高低飞落开流声色烟雨雪霜霞星河海湖舟船草木林松竹梅柳桃鸟雁鹤马龙朝暮晚晓"
    "千万里一三五百两独孤相思别离愁梦醒酒歌舞琴诗书画看听问知见望登过入出上下前后去留生死"
    "老少新旧古今多少满半无有不可能何处谁家君我尔此彼自应须欲将犹更还又已未莫休谁堪怜"
)
MARKS = "，。、！\n"


def walk(constraint: Any, rng: random.Random, extra: str = "") -> str | None:
    """One text chosen character by character among those the constraint allows, or None at a
    dead end (the small pool ran out of rhymes: the real sampler backtracks)."""
    state = constraint.initial()
    text = ""
    while not constraint.can_end(state):
        options = [(c, after) for c in POOL + extra + MARKS if (after := constraint.advance(state, c)) is not None]
        if not options:
            return None
        char, state = rng.choice(options)
        text += char
    return text
