"""`--creativity 0..1`: one control over the sampler, mapped by measurement, not by taste.

The mapping is data (`creativity.json`, written by `fabula eval creativity`): five presets chosen
along the measured diversity-perplexity front of the embedded model. Values between levels
interpolate temperature and min-p linearly.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from fabula.errors import InvalidParam


@cache
def calibration() -> dict[str, Any]:
    return json.loads(resources.files("fabula.decoding").joinpath("creativity.json").read_text())  # type: ignore[no-any-return]


def preset(creativity: float) -> dict[str, float]:
    """Sampler settings for a creativity in [0, 1]."""
    if isinstance(creativity, bool) or not isinstance(creativity, (int, float)) or not 0.0 <= creativity <= 1.0:
        raise InvalidParam("creativity", creativity, "must be a number from 0 (predictable) to 1 (adventurous)")
    levels = calibration()["levels"]
    for low, high in zip(levels, levels[1:], strict=False):
        if low["creativity"] <= creativity <= high["creativity"]:
            span = high["creativity"] - low["creativity"]
            w = (creativity - low["creativity"]) / span if span else 0.0
            return {
                "temperature": round(low["params"]["temperature"] * (1 - w) + high["params"]["temperature"] * w, 3),
                "min_p": round(low["params"]["min_p"] * (1 - w) + high["params"]["min_p"] * w, 4),
                "top_k": 0,
                "top_p": 1.0,
            }
    return dict(levels[-1]["params"])
