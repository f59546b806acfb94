"""A scripted engine for tests and documentation examples.

It is a real Backend: it honours max_tokens (in words), stop strings, seeds and n, and streams
word by word, so the pipeline, the CLI and the store can be exercised without loading a model.
The model name selects a script: `echo` repeats the prompt, `slow` streams the sample over and
over (a word every 20 ms, up to max_tokens: for cancellation and load tests), a path to a JSON file
`{"scripts": [...], "word_delay": 0.02}` serves those scripts (for a server in another process,
such as the browser tests' hostile engine), anything else cycles through the instance's `scripts`
(given to the constructor, or set on the instance a surface will use), one script per candidate,
or a built-in sample. Each instance keeps `requests`, every Request it received in order, so a
test can see what a surface actually asked of the engine (as simonw/llm's mock model does), and
`active`, the generations in progress, so a test can see a slot come back. Nothing is shared
between instances.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from fabula.backends.base import Capabilities, OnText, candidate_seeds
from fabula.cancel import check as check_cancelled
from fabula.settings import Settings
from fabula.types import Completion, Request

SAMPLE = (
    "The lighthouse keeper counted the ships that never came. Each night she lit the lamp anyway, "
    "and each morning the sea returned a single shell to her doorstep. On the hundredth morning "
    "the shell was warm, and inside it, folded small as a moth, was a letter in her own handwriting "
    "dated ten years from now."
)


class FakeBackend:
    name = "fake"
    capabilities = Capabilities(steerable=False, streaming=True, logprobs=True, chat_template=True)

    def __init__(self, model: str, settings: Settings, scripts: Sequence[str] | None = None) -> None:
        self.model_name = model or "fake-sample"
        self.settings = settings
        self.scripts: list[str] = list(scripts or ())
        self.requests: list[Request] = []
        self.active = 0
        self._lock = threading.Lock()
        self._served = 0  # candidates produced so far: the next script to use
        self.word_delay = 0.02 if self.model_name == "slow" else 0.0
        if self.model_name.endswith(".json") and Path(self.model_name).is_file():
            data = json.loads(Path(self.model_name).read_text(encoding="utf-8"))
            self.scripts = [str(s) for s in data["scripts"]]
            self.word_delay = float(data.get("word_delay", 0.0))

    def model_info(self) -> dict[str, object]:
        return {"name": self.model_name, "path": None, "sha256": None}

    def _script(self, request: Request, seed: int | None) -> str:
        if self.model_name == "echo":
            return request.messages[-1].content if request.messages else request.completion_prompt
        if self.model_name == "slow":
            return " ".join([SAMPLE] * (request.params.max_tokens // 40 + 1))
        scripts = self.scripts or [SAMPLE]
        with self._lock:
            text = scripts[self._served % len(scripts)]
            self._served += 1
        if seed is not None and not self.scripts:
            words = text.split(" ")
            random.Random(seed).shuffle(words)
            text = " ".join(words)
        return text

    def complete(self, request: Request, on_text: OnText | None = None) -> list[Completion]:
        with self._lock:
            self.requests.append(request)
            self.active += 1
        try:
            return self._complete(request, on_text)
        finally:
            with self._lock:
                self.active -= 1

    def _complete(self, request: Request, on_text: OnText | None) -> list[Completion]:
        out = []
        for index, seed in enumerate(candidate_seeds(request.params.seed, request.params.n)):
            start = time.perf_counter()
            words = self._script(request, seed).split(" ")
            finish = "stop"
            if len(words) > request.params.max_tokens:
                words, finish = words[: request.params.max_tokens], "length"
            text = ""
            for i, word in enumerate(words):
                check_cancelled()  # like every engine: a cancelled generation stops at its next token
                piece = word if i == 0 else " " + word
                candidate_text = text + piece
                hit = [s for s in request.params.stop if s in candidate_text]
                if hit:
                    piece = candidate_text[: candidate_text.index(hit[0])][len(text) :]
                    finish = "stop"
                if self.word_delay:
                    time.sleep(self.word_delay)
                if on_text and piece:
                    on_text(index, piece)
                text += piece
                if hit:
                    break
            out.append(
                Completion(
                    text=text,
                    finish_reason=finish,
                    seed=seed,
                    prompt_tokens=len(request.completion_prompt.split()),
                    completion_tokens=len(text.split()),
                    token_logprobs=tuple(-1.0 for _ in text.split()) or None,
                    first_token_s=0.0,
                    total_s=time.perf_counter() - start,
                )
            )
        return out

    def close(self) -> None:
        pass
