"""The co-writing verbs: continue, rewrite, expand, shrink, describe, brainstorm, feedback.

Each verb works on a document and a selection `[start, end)` in characters (an empty selection is
the cursor; continue's cursor defaults to the end, the others' selection to the whole document)
and returns candidates: each is a replacement for a span of the text, so applying one
(`Document.apply`) changes that span and nothing else, by construction.

The prompt carries, nearest first and under budgets: the story bible entries the passage calls for
(`plan.bible.select`, keywords then embedding relevance), the story so far (the manuscript's
chapters before this one, `fabula.continuity.context`), the text just before the selection and
just after it, each cut at a sentence or word boundary. `continue` is plain-text continuation of
the text before the cursor (as Write With Transformer and NovelAI continue), with the bible as a
bracketed note above it; the other verbs are chat instructions (`verbs.toml`).

Contracts are checked, not hoped for, and a candidate that breaks its verb's contract is
resampled with the next seed, a bounded number of times:
- shrink: shorter than the selection. Its token budget is also capped below the selection's
  length, so a rambling answer is cut (at a sentence end) before it can grow;
- expand: longer than the selection; rewrite: not empty and not the passage unchanged;
- brainstorm: at least MIN_ITEMS distinct items (case and punctuation ignored), collected over
  rounds until there are;
- feedback: the four Torrance criteria (Chakrabarty et al. 2024: fluency, flexibility,
  originality, elaboration), each with a score 1-5, a comment and a quotation. A quotation that
  is not in the passage is replaced by the passage's sentence that shares most words with the
  comment, and marked so: evidence is always the writer's own words.
Candidates are ranked by mean token log-probability among those that keep the contract; the
first is chosen unless the writer picks another.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from fabula.backends.base import Backend, steppable
from fabula.errors import InvalidParam, Rejected
from fabula.post.clean import clean
from fabula.post.rank import mean_logprob
from fabula.sampling import MAX_SEED, SamplingParams
from fabula.types import Completion, Message, Request

LOG = logging.getLogger(__name__)

VERBS = ("continue", "rewrite", "expand", "shrink", "describe", "brainstorm", "feedback")
# verbs whose chosen text goes into the document; brainstorm and feedback are notes beside it
EDITING = ("continue", "rewrite", "expand", "shrink", "describe")
SENSES = ("sight", "sound", "smell", "touch", "taste")
BRAINSTORM_KINDS = {
    "names": "names for characters",
    "places": "names of places",
    "next": "things that could happen next",
    "twists": "plot twists",
    "titles": "titles",
}
CRITERIA = ("fluency", "flexibility", "originality", "elaboration")
MIN_ITEMS = 5
MAX_ROUNDS = 3  # resampling rounds for candidates that break their contract
BEFORE_CHARS = 1600  # about 400 tokens of the text before the selection (and up to ANCHOR_STEP more)
ANCHOR_STEP = 1600  # windows of 1,600 to 3,200 characters: neighbouring paragraphs share a start
AFTER_CHARS = 400
BIBLE_BUDGET = 120  # tokens


@cache
def prompts() -> dict[str, Any]:
    return tomllib.loads(resources.files("fabula.cowrite").joinpath("verbs.toml").read_text(encoding="utf-8"))


@dataclass
class VerbRequest:
    verb: str
    text: str
    start: int | None = None
    end: int | None = None
    instruction: str = ""  # rewrite: free text or a preset name; brainstorm: the kind of list
    n: int = 3
    lead: str = ""  # continue: text to start from (a token alternative the writer picked)
    alternatives: int = 5  # continue: each token's likeliest alternatives, where the engine reports them
    entries: list[Any] = field(default_factory=list)  # story bible entries
    so_far: str = ""  # the story so far: the chapters before this document (fabula.continuity.context)
    # a poem's form constraint (a TextConstraint over the whole poem): continue writes the rest of
    # the poem inside it on steppable engines
    constraint: Any = None
    # told each piece of text as a candidate is written: on_text(attempt, delta), attempts counted
    # from 0 in the order they are generated (resampled ones included)
    on_text: Callable[[int, str], None] | None = field(default=None, compare=False, repr=False)
    attempts: int = field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.verb not in VERBS:
            raise InvalidParam("verb", self.verb, f"one of: {', '.join(VERBS)}")
        if not 1 <= self.n <= 8:
            raise InvalidParam("n", self.n, "from 1 to 8 candidates")
        size = len(self.text)
        cursor_verb = self.verb == "continue"
        start = self.start if self.start is not None else (size if cursor_verb else 0)
        end = self.end if self.end is not None else (start if cursor_verb else size)
        if not 0 <= start <= end <= size:
            raise InvalidParam(
                "selection", f"{start}..{end}", f"must lie within the document's {size} characters (0..{size})"
            )
        if self.verb in ("rewrite", "expand", "shrink", "describe", "feedback") and not self.text[start:end].strip():
            raise InvalidParam("selection", f"{start}..{end}", f"{self.verb} needs some text selected")
        if self.verb == "brainstorm" and (self.instruction or "next") not in BRAINSTORM_KINDS:
            raise InvalidParam("instruction", self.instruction, f"brainstorm lists: {', '.join(BRAINSTORM_KINDS)}")
        self.start, self.end = start, end

    @property
    def passage(self) -> str:
        return self.text[self.start : self.end]


@dataclass
class VerbResult:
    verb: str
    start: int  # the span every candidate replaces
    end: int
    candidates: list[dict[str, Any]]  # {"text", "seed", "mean_logprob", "ok", "why", ...}
    chosen: int
    items: list[str] = field(default_factory=list)  # brainstorm
    feedback: dict[str, Any] | None = None
    prompt: list[dict[str, str]] = field(default_factory=list)
    bible: list[dict[str, Any]] = field(default_factory=list)
    prompt_version: int = 0

    @property
    def text(self) -> str:
        return str(self.candidates[self.chosen]["text"])


# ---- context ------------------------------------------------------------------------------------


def _tail(text: str, limit: int) -> str:
    """About the last `limit` characters (up to ANCHOR_STEP more), starting at the first sentence
    (else word) boundary after an anchor on a fixed grid of the text. Selections near each other
    then get windows that start at the same place, so their prompts share a prefix that the engine
    need not evaluate again (llama.cpp's prompt reuse); a window ending at the cursor would start
    one character later for every character typed."""
    anchor = max(0, len(text) - limit) // ANCHOR_STEP * ANCHOR_STEP
    if anchor == 0:  # the text from its beginning
        return text
    cut = text[anchor:]
    sentence = re.search(r"(?<=[.!?\"”])\s+", cut)
    if sentence and sentence.end() < ANCHOR_STEP // 2:
        return cut[sentence.end() :]
    space = cut.find(" ")
    return cut[space + 1 :] if 0 <= space < 40 else cut


def _head(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    ends = [m.end() for m in re.finditer(r"[.!?][\"”]?(?=\s)", cut)]
    if ends and ends[-1] > limit // 2:
        return cut[: ends[-1]]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def context(req: VerbRequest) -> tuple[str, list[dict[str, Any]]]:
    """The story so far, the text before the selection, the bible and the text after it, for a chat prompt."""
    from fabula.plan.bible import select

    before = _tail(req.text[: req.start], BEFORE_CHARS).strip()
    after = _head(req.text[req.end :], AFTER_CHARS).strip()
    about = req.passage or before[-400:]
    bible, record = select(req.entries, about, BIBLE_BUDGET) if req.entries else ("", [])
    # what stays the same from one selection to the next comes first (the story so far, the text
    # before), so consecutive prompts share the longest prefix; the bible entries follow the passage
    parts = [req.so_far] if req.so_far else []
    if before:
        parts.append(f"Text before the passage (context, do not repeat it):\n{before}\n")
    if bible:
        parts.append(bible)
    if after:
        parts.append(f"Text after the passage (context):\n{after}\n")
    return ("\n".join(parts) + "\n") if parts else "", record


def _tokens(text: str) -> int:
    return max(1, round(len(text.split()) * 1.35))  # English words to BPE tokens, about


# ---- generation -----------------------------------------------------------------------------------


def _seeds(seed: int, count: int, offset: int) -> list[int]:
    return [(seed + offset + i) % (MAX_SEED + 1) for i in range(count)]


def _emitter(req: VerbRequest) -> Callable[[str], None] | None:
    """`emit(delta)` for the next attempt (a stepped sampler's callback), or None."""
    attempt = req.attempts
    req.attempts += 1
    tell = req.on_text
    return None if tell is None else (lambda delta: tell(attempt, delta))


def _many(backend: Backend, request: Request, req: VerbRequest) -> list[Completion]:
    """All of a request's candidates in one engine call (seed, seed+1, ...: the engine decodes them
    together where it can), candidate i's text streamed to `req.on_text` as attempt `req.attempts + i`."""
    base = req.attempts
    req.attempts += request.params.n
    tell = req.on_text
    if tell is None:
        return backend.complete(request)
    return backend.complete(request, lambda index, delta: tell(base + index, delta))


def _one(backend: Backend, request: Request, req: VerbRequest) -> Completion:
    """One engine call, its text streamed to `req.on_text` as attempt number `req.attempts`."""
    attempt = req.attempts
    req.attempts += 1
    if req.on_text is None:
        return backend.complete(request)[0]
    tell = req.on_text
    return backend.complete(request, lambda _index, delta: tell(attempt, delta))[0]


# the prompt's own labels, which a small model sometimes writes back before its answer
LABEL = re.compile(r"\A\s*(?:(?:Text (?:before|after) the passage|Text before|Text after|Passage|Rewritten passage|"
                   r"Expanded passage|Shortened passage|Story bible)\b[^\n:]*:[ \t]*\n?)+", re.IGNORECASE)  # fmt: skip


# a label at the start of a later paragraph: the model began another section of its own
LATER_LABEL = re.compile(
    r"\n\s*(?:Passage|Text (?:before|after)|Rewritten passage|Expanded passage|Shortened passage|Note|Explanation)"
    r"\b[^\n:]{0,30}:",
    re.IGNORECASE,
)
# a first sentence that talks to the writer instead of writing ("I'll keep this one brief.")
META_OPENING = re.compile(
    r"\A\s*(?:I'll|I will|I've|I have|I can|Here(?: is|'s)|Sure|Certainly|Okay|OK|Of course)\b[^.!?\n]{0,160}[.!?:]\s+",
    re.IGNORECASE,
)


def _cleaned(completion: Completion, prompt: str) -> str:
    """The answer alone: the prompt's labels, a remark to the writer before it and any section the
    model began after it are removed."""
    text = clean(completion.text, prompt=prompt, truncated=completion.finish_reason == "length").text
    text = LABEL.sub("", text)
    later = LATER_LABEL.search(text)
    if later and later.start() > 0:
        text = text[: later.start()]
    opening = META_OPENING.match(text)
    if opening and len(text) - opening.end() > 20:
        text = text[opening.end() :]
    return text.strip().strip('"“”').strip()


def _mean(completion: Completion) -> float | None:
    value = mean_logprob(completion.token_logprobs) if completion.token_logprobs else None
    return round(value, 4) if value is not None else None


def _candidate(text: str, completion: Completion, ok: bool, why: str, **extra: Any) -> dict[str, Any]:
    return {
        "text": text,
        "seed": completion.seed,
        "mean_logprob": _mean(completion),
        "completion_tokens": completion.completion_tokens,
        "first_token_s": round(completion.first_token_s, 3) if completion.first_token_s is not None else None,
        "ok": ok,
        "why": why,
        **extra,
    }


def _joined(before: str, addition: str) -> str:
    """`addition` with the one space it needs to follow `before`."""
    if not addition or not before or before[-1].isspace() or addition[0].isspace() or addition[0] in ",.;:!?'’)”":
        return addition
    return " " + addition


def _contract(req: VerbRequest, text: str) -> tuple[bool, str]:
    passage = req.passage.strip()
    if not text.strip():
        return False, "empty"
    if req.verb == "shrink":
        return (len(text) < len(passage), f"{len(text)} characters against the passage's {len(passage)}")
    if req.verb == "expand":
        return (len(text) > len(passage), f"{len(text)} characters against the passage's {len(passage)}")
    if req.verb == "rewrite" and " ".join(text.split()) == " ".join(passage.split()):
        return False, "the passage unchanged"
    return True, f"{len(text)} characters"


def _chat(req: VerbRequest, fill: dict[str, str]) -> tuple[tuple[Message, ...], list[dict[str, Any]]]:
    template = prompts()[req.verb]
    ctx, record = context(req)
    user = template["user"].format(context=ctx, passage=req.passage.strip(), **fill)
    return (Message("system", template["system"]), Message("user", user)), record


def _instruction(req: VerbRequest) -> str:
    presets = prompts()["presets"]
    wanted = req.instruction.strip() or "in better prose"
    return str(presets.get(wanted, wanted))


def run_verb(backend: Backend, req: VerbRequest, params: SamplingParams, seed: int) -> VerbResult:
    """Candidates for one verb, ranked; see the module's docstring for each verb's contract."""
    handler = {
        "continue": _continue,
        "describe": _describe,
        "brainstorm": _brainstorm,
        "feedback": _feedback,
    }.get(req.verb, _edit)
    result = handler(backend, req, params, seed)
    result.prompt_version = int(prompts()["version"])
    LOG.info(
        "%s on %d..%d: %d candidate(s), %d keep the contract; chose %d",
        req.verb,
        result.start,
        result.end,
        len(result.candidates),
        sum(1 for c in result.candidates if c["ok"]),
        result.chosen + 1,
    )
    return result


def _ranked(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Contract-keeping candidates first, each group by mean log-probability (likelier first)."""
    return sorted(
        candidates, key=lambda c: (not c["ok"], -(c["mean_logprob"] if c["mean_logprob"] is not None else -99))
    )


def _edit(backend: Backend, req: VerbRequest, params: SamplingParams, seed: int) -> VerbResult:
    """rewrite, expand, shrink: replace the selection; resample what breaks the contract."""
    passage_tokens = _tokens(req.passage)
    budget = {
        "rewrite": int(passage_tokens * 1.5) + 24,
        "expand": int(passage_tokens * 2.5) + 48,
        "shrink": max(4, int(passage_tokens * 0.7)),  # shorter by construction, nearly always
    }[req.verb]
    messages, record = _chat(req, {"instruction": _instruction(req)})
    kept: list[dict[str, Any]] = []
    broken: list[dict[str, Any]] = []
    offset = 0
    for _ in range(MAX_ROUNDS):
        missing = req.n - len(kept)
        if missing <= 0:
            break
        first = (seed + offset) % (MAX_SEED + 1)
        request = Request(messages, messages[-1].content + "\n", params.with_(seed=first, n=missing, max_tokens=budget))
        for completion in _many(backend, request, req):
            text = _cleaned(completion, req.passage)
            ok, why = _contract(req, text)
            (kept if ok else broken).append(_candidate(_keep_edges(req.passage, text), completion, ok, why))
        offset += missing
    if not kept:
        raise Rejected(
            f"{req.verb}: none of {len(broken)} candidates kept the contract ({broken[-1]['why']}); "
            "try another seed, a longer selection or another instruction"
        )
    candidates = _ranked(kept)[: req.n]
    return VerbResult(req.verb, req.start or 0, req.end or 0, candidates, 0, prompt=_dicts(messages), bible=record)


def _keep_edges(passage: str, text: str) -> str:
    """The selection's own leading and trailing whitespace stays around its replacement, so a
    rewritten paragraph keeps its blank lines."""
    lead = passage[: len(passage) - len(passage.lstrip())]
    trail = passage[len(passage.rstrip()) :]
    return lead + text.strip() + trail


def _continue(backend: Backend, req: VerbRequest, params: SamplingParams, seed: int) -> VerbResult:
    from fabula.plan.bible import select

    before = _tail(req.text[: req.start], BEFORE_CHARS)
    bible, record = select(req.entries, before[-400:], BIBLE_BUDGET) if req.entries else ("", [])
    note = f"[{' '.join(bible.split())}]\n\n" if bible else ""
    if req.so_far:  # as a bracketed note too: plain continuation reads it as a header, not as text
        note = f"[{' '.join(req.so_far.split())}]\n\n" + note
    if req.constraint is not None and steppable(backend) is not None:
        return _continue_poem(backend, req, params, seed)
    prompt = note + before + req.lead
    candidates: list[dict[str, Any]] = []
    max_tokens = min(params.max_tokens, 120)
    top = req.alternatives if backend.capabilities.top_logprobs else 0
    request = Request((), prompt, params.with_(seed=seed, n=req.n, max_tokens=max_tokens), raw=True, top_logprobs=top)
    for completion in _many(backend, request, req):
        # the model's own spacing is kept: " on the mat" after "sat", "s raged" after a lead " storm"
        spacing = completion.text[: len(completion.text) - len(completion.text.lstrip())]
        body = clean(completion.text, truncated=completion.finish_reason == "length", drop_title=False).text.strip()
        text = req.lead + (spacing + body if body else "")
        ok = bool(body)
        extra = {}
        if completion.tokens:  # the lead (the writer's pick) first, so the pieces spell the text
            led: list[dict[str, Any]] = [{"token": req.lead, "logprob": None, "top": []}] if req.lead else []
            extra["alternatives"] = led + kept_tokens(completion, spacing + body)
        candidates.append(_candidate(text, completion, ok, f"{len(text)} characters" if ok else "empty", **extra))
    if not any(c["ok"] for c in candidates):
        raise Rejected("continue: every candidate was empty; try another seed")
    cursor = req.start or 0
    messages = [{"role": "completion", "content": prompt}]
    return VerbResult("continue", cursor, cursor, _ranked(candidates), 0, prompt=messages, bible=record)


class Resumed:
    """A whole-poem constraint picked up where the writer's text stops: its state after the poem
    so far, so the model writes only what the form still allows (the rest of the line, the lines
    left, rhymes with the writer's own line ends)."""

    def __init__(self, inner: Any, written: str) -> None:
        state = inner.initial()
        for i, char in enumerate(written):
            state = inner.advance(state, char)
            if state is None:
                line = written[: i + 1].count("\n") + 1
                raise InvalidParam(
                    "selection",
                    f"the poem so far (character {i + 1}, line {line})",
                    "already breaks its form there; fix that line by hand, or continue from an earlier point",
                )
        self.inner, self.state = inner, state

    def initial(self) -> Any:
        return self.state

    def advance(self, state: Any, text: str) -> Any | None:
        return self.inner.advance(state, text)

    def can_end(self, state: Any) -> bool:
        return bool(self.inner.can_end(state))

    def forced(self, state: Any) -> str | None:
        forced = getattr(self.inner, "forced", None)
        return forced(state) if forced is not None else None

    def token_budget(self) -> int:
        return int(self.inner.token_budget())


def _continue_poem(backend: Backend, req: VerbRequest, params: SamplingParams, seed: int) -> VerbResult:
    """The rest of a poem, decoded inside its form from the writer's lines on (see Resumed)."""
    from fabula.decoding.constrained import constrained_sample

    stepped = steppable(backend)
    assert stepped is not None
    cursor = req.start or 0
    written = req.text[:cursor]
    if req.text[cursor:].strip():
        raise InvalidParam(
            "selection", f"{cursor}", "a poem is continued from its end: put the cursor after the last line"
        )
    resumed = Resumed(req.constraint, written)
    candidates: list[dict[str, Any]] = []
    for s in _seeds(seed, req.n, 0):
        request = Request((), written, params.with_(seed=s, n=1), raw=True)
        emit = _emitter(req)
        budget = resumed.token_budget()
        completion = constrained_sample(stepped.stepper(request), resumed, params, s, emit, max_tokens=budget)
        after = resumed.advance(resumed.initial(), completion.text)
        ok = completion.finish_reason != "dead_end" and after is not None and resumed.can_end(after)
        why = "the poem's form kept to its end" if ok else f"no way to finish the form ({completion.finish_reason})"
        candidates.append(_candidate(completion.text, completion, ok, why))
    if not any(c["ok"] for c in candidates):
        raise Rejected("continue: no candidate could finish the poem in its form; try another seed")
    messages = [{"role": "completion", "content": written}]
    return VerbResult("continue", cursor, cursor, _ranked(candidates), 0, prompt=messages)


def kept_tokens(completion: Completion, kept: str) -> list[dict[str, Any]]:
    """The generated tokens that make up `kept` (the continuation after cleaning), each with its
    likeliest alternatives: what a writer hovers to pick another word and continue from there."""
    out: list[dict[str, Any]] = []
    position = 0
    for token in completion.tokens or ():
        piece = str(token["token"])
        if not piece or kept[position : position + len(piece)] != piece:
            break
        alternatives = [
            {"token": str(a["token"]), "logprob": round(float(a["logprob"]), 4)} for a in token.get("top_logprobs", [])
        ]
        out.append({"token": piece, "logprob": round(float(token["logprob"]), 4), "top": alternatives})
        position += len(piece)
    return out


def _describe(backend: Backend, req: VerbRequest, params: SamplingParams, seed: int) -> VerbResult:
    """One candidate per sense (the first n of sight, sound, smell, touch, taste), inserted after
    the selection."""
    candidates: list[dict[str, Any]] = []
    prompt: list[dict[str, str]] = []
    record: list[dict[str, Any]] = []
    for i, sense in enumerate(SENSES[: max(req.n, 1)]):
        messages, record = _chat(req, {"sense": sense})
        prompt = _dicts(messages)
        s = (seed + i) % (MAX_SEED + 1)
        request = Request(messages, messages[-1].content + "\n", params.with_(seed=s, n=1, max_tokens=80))
        completion = _one(backend, request, req)
        text = _cleaned(completion, req.passage)
        ok = bool(text)
        before = req.text[: req.end]
        candidates.append(_candidate(_joined(before, text), completion, ok, sense, sense=sense))
    if not any(c["ok"] for c in candidates):
        raise Rejected("describe: every candidate was empty; try another seed")
    end = req.end or 0
    return VerbResult(
        "describe",
        end,
        end,
        candidates,
        next(i for i, c in enumerate(candidates) if c["ok"]),
        prompt=prompt,
        bible=record,
    )


ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*(.+?)\s*$")


def parse_items(text: str) -> list[str]:
    """The items of a numbered or bulleted list, their numbering, quotes and end marks removed."""
    items = []
    for line in text.splitlines():
        match = ITEM.match(line)
        if not match:
            continue
        item = match.group(1).strip().strip("\"'“”*").rstrip(".,;:").strip("\"'“”*").strip()
        if 1 <= len(item) <= 200:
            items.append(item)
    return items


def _key(item: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", item.casefold()).split())


def _brainstorm(backend: Backend, req: VerbRequest, params: SamplingParams, seed: int) -> VerbResult:
    """A numbered list begun in plain text ("Ten titles for this story:\n1."), continued by the
    model; items gathered over rounds (new seeds) until MIN_ITEMS distinct ones are found."""
    from fabula.plan.bible import select

    kind = req.instruction or "next"
    end = req.end or 0
    story = _tail(req.text[:end], 700).strip()
    bible, record = select(req.entries, story[-400:], BIBLE_BUDGET) if req.entries else ("", [])
    note = f"[{' '.join(bible.split())}]\n\n" if bible else ""
    prompt = prompts()["brainstorm"]["prompt"].format(context=note + story, kind=BRAINSTORM_KINDS[kind])
    items: list[str] = []
    seen: set[str] = set()
    candidates: list[dict[str, Any]] = []
    for round_ in range(MAX_ROUNDS + 2):
        s = (seed + round_) % (MAX_SEED + 1)
        request = Request((), prompt, params.with_(seed=s, n=1, max_tokens=200, stop=("\n\n",)), raw=True)
        completion = _one(backend, request, req)
        found = parse_items("1." + completion.text)
        for item in found:
            if _key(item) and _key(item) not in seen:
                seen.add(_key(item))
                items.append(item)
        candidates.append(_candidate("\n".join(found), completion, bool(found), f"{len(found)} items", items=found))
        if len(items) >= MIN_ITEMS:
            break
    if len(items) < MIN_ITEMS:
        raise Rejected(f"brainstorm: only {len(items)} distinct items in {len(candidates)} rounds; try another seed")
    messages = [{"role": "completion", "content": prompt}]
    listed = "\n".join(f"{i + 1}. {item}" for i, item in enumerate(items))
    chosen = {
        "text": listed,
        "seed": seed,
        "mean_logprob": None,
        "completion_tokens": sum(c["completion_tokens"] for c in candidates),
        "first_token_s": candidates[0]["first_token_s"],
        "ok": True,
        "why": f"{len(items)} distinct items",
    }
    return VerbResult("brainstorm", end, end, [chosen, *candidates], 0, items=items, prompt=messages, bible=record)


FEEDBACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        name: {
            "type": "object",
            "properties": {
                "score": {"type": "integer", "minimum": 1, "maximum": 5},
                "comment": {"type": "string", "minLength": 8, "maxLength": 200},
                "quote": {"type": "string", "minLength": 3, "maxLength": 160},
            },
            "required": ["score", "comment", "quote"],
            "additionalProperties": False,
        }
        for name in CRITERIA
    },
    "required": list(CRITERIA),
    "additionalProperties": False,
}


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def _evidence(passage: str, quote: str, comment: str) -> tuple[str, str]:
    """(quotation, how it was checked): the model's own if it is in the passage, else the
    passage's sentence sharing most words with its comment and quotation."""
    flat = " ".join(passage.split())
    if quote and " ".join(quote.split()).strip(" .\"'“”") in flat:
        return quote.strip(), "quoted"
    words = set(re.findall(r"\w+", (comment + " " + quote).casefold()))
    sentences = _sentences(flat) or [flat]
    best = max(sentences, key=lambda s: len(words & set(re.findall(r"\w+", s.casefold()))))
    return best, "replaced: the model's quotation was not in the passage"


def _feedback(backend: Backend, req: VerbRequest, params: SamplingParams, seed: int) -> VerbResult:
    import json

    messages, record = _chat(req, {})
    schema = FEEDBACK_SCHEMA if backend.capabilities.json_schema else None
    critique: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = []
    for round_ in range(MAX_ROUNDS):
        s = (seed + round_) % (MAX_SEED + 1)
        request = Request(
            messages, messages[-1].content + "\n", params.with_(seed=s, n=1, max_tokens=700), json_schema=schema
        )
        completion = _one(backend, request, req)
        try:
            data = json.loads(completion.text[completion.text.index("{") : completion.text.rindex("}") + 1])
            critique = {}
            for name in CRITERIA:
                item = data[name]
                score = min(5, max(1, int(item["score"])))
                quote, checked = _evidence(req.passage, str(item.get("quote", "")), str(item.get("comment", "")))
                critique[name] = {
                    "score": score,
                    "comment": str(item["comment"]).strip(),
                    "quote": quote,
                    "evidence": checked,
                }
        except (ValueError, KeyError, TypeError) as exc:
            candidates.append(_candidate(completion.text, completion, False, f"not the rubric's JSON: {exc}"))
            critique = None
            continue
        text = "\n".join(f'{n}: {c["score"]}/5. {c["comment"]} ("{c["quote"]}")' for n, c in critique.items())
        candidates.append(_candidate(text, completion, True, "all four criteria", feedback=critique))
        break
    if critique is None:
        raise Rejected(f"feedback: no usable critique in {len(candidates)} attempts; try another seed")
    end = req.end or 0
    return VerbResult(
        "feedback", end, end, _ranked(candidates), 0, feedback=critique, prompt=_dicts(messages), bible=record
    )


def _dicts(messages: tuple[Message, ...]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]
