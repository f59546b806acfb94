"""Show scripts: a timed segment plan (opening, topics, audience Q&A slots, closing), then the
persona's spoken lines for each segment, until the segment's time is filled at the persona's
speaking rate.

The plan is made by rule, not by the model: the opening and closing take 5% of the show each (a
minute, or 15% of a show under seven minutes), a two-minute Q&A slot follows every two topics
(at least one in a show of five minutes or more), and topics share the rest, about six minutes
each. The model names the topics
(decoded under a JSON schema, so the list always parses) and writes the lines. A line's start time
is the words spoken before it divided by the rate, so the teleprompter's clock matches speech.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from fabula.errors import InvalidParam
from fabula.sampling import SamplingParams
from fabula.stream.persona import Persona
from fabula.stream.prompting import leaks
from fabula.types import Message, Request

OnStep = Callable[[str, int, int], None]


@dataclass
class Segment:
    kind: str  # opening | topic | qa | closing
    title: str
    minutes: float
    lines: list[dict[str, Any]] = field(default_factory=list)  # {"start_s", "text"}
    live: bool = False  # a Q&A slot: the host's lead-in is scripted, the rest is live chat


def plan_segments(minutes: int, topics: list[str]) -> list[Segment]:
    edge = round(max(min(1.0, 0.15 * minutes), 0.05 * minutes), 2)
    qa_slots = 0 if minutes < 5 else max(1, len(topics) // 2)
    qa_minutes = 2.0 if minutes >= 10 else 1.0
    body = minutes - 2 * edge - qa_slots * qa_minutes
    if body < len(topics):
        raise InvalidParam("minutes", minutes, f"too short for {len(topics)} topics; give more minutes or fewer topics")
    segments = [Segment("opening", "Opening", edge)]
    for i, topic in enumerate(topics):
        segments.append(Segment("topic", topic, round(body / len(topics), 2)))
        if qa_slots and (i % 2 == 1 or i == len(topics) - 1) and sum(s.kind == "qa" for s in segments) < qa_slots:
            segments.append(Segment("qa", "Audience Q&A", qa_minutes, live=True))
    segments.append(Segment("closing", "Closing", edge))
    return segments


def topic_count(minutes: int) -> int:
    return max(1, min(8, round(minutes / 6)))


def _topics(backend: Any, persona: Persona, topic: str, count: int, params: SamplingParams) -> list[str]:
    schema = {
        "type": "object",
        "properties": {
            "topics": {
                "type": "array",
                "items": {"type": "string", "minLength": 3, "maxLength": 60, "pattern": '^[^\\n"\\\\]+$'},
                "minItems": count,
                "maxItems": count,
            }
        },
        "required": ["topics"],
    }
    user = (
        f"You are planning a live stream about: {topic}\n"
        f"Name {count} short segment topics for it, in the order you will cover them, as JSON "
        f'{{"topics": [...]}}.'
    )
    messages = (Message("system", persona.system_text()), Message("user", user))
    text = backend.complete(Request(messages, user, params.with_(max_tokens=40 * count, n=1), json_schema=schema))[
        0
    ].text
    try:
        found = [t.strip() for t in json.loads(text)["topics"] if t.strip()]
    except (ValueError, KeyError, TypeError, AttributeError):
        found = []
    found = list(dict.fromkeys(found))[:count]
    return found + [f"{topic}, part {i + 1}" for i in range(len(found), count)]


def _lines(text: str) -> list[str]:
    """Spoken sentences: stage directions, speaker labels and markup removed."""
    text = re.sub(r"\([^)]*\)|\*[^*]*\*|\[[^\]]*\]", " ", text)
    out = []
    for raw in text.splitlines():
        raw = re.sub(r"^\s*[\w ]{1,20}:\s+", "", raw).strip(" -#>\"'")
        for sentence in re.findall(r"[^.!?]+[.!?]+|[^.!?]+$", raw):
            sentence = sentence.strip()
            if len(sentence.split()) >= 3:
                out.append(sentence)
    return out


def write_script(
    backend: Any,
    persona: Persona,
    topic: str,
    minutes: int,
    params: SamplingParams | None = None,
    on_step: OnStep | None = None,
) -> dict[str, Any]:
    if not isinstance(minutes, int) or not 1 <= minutes <= 240:
        raise InvalidParam("minutes", minutes, "a whole number of minutes, 1 to 240")
    if not topic or not topic.strip():
        raise InvalidParam("topic", topic, 'what the show is about: --topic "..."')
    params = params or SamplingParams(temperature=0.8, top_p=0.95, max_tokens=160)
    started = time.perf_counter()
    topics = _topics(backend, persona, topic, topic_count(minutes), params)
    segments = plan_segments(minutes, topics)
    spoken_words = 0
    for number, segment in enumerate(segments):
        if on_step:
            on_step(segment.title, number, len(segments))
        target = 45 if segment.live else int(segment.minutes * persona.rate_wpm)
        written = 0
        attempts = math.ceil(target / 20) + 3  # a call gives 20-120 words; a stuck model stops here
        while written < target and attempts > 0:
            attempts -= 1
            said = " ".join(line["text"] for line in segment.lines[-2:])
            ask = {
                "opening": "Open the show: greet the chat and say what today is about.",
                "topic": f"Talk about this segment's topic: {segment.title}.",
                "qa": "Invite the chat to ask questions now; say you will read them out.",
                "closing": "Close the show: thank the chat, tease the next stream, say goodbye.",
            }[segment.kind]
            user = (
                f"Today's stream is about: {topic}. You are in the {segment.kind} segment. {ask} "
                f"Write only the words you say aloud next, in character, a few sentences."
                + (f" You just said: {said}" if said else "")
            )
            messages = (Message("system", persona.system_text()), Message("user", user))
            seed = None if params.seed is None else params.seed + 1000 * number + attempts
            reply = backend.complete(Request(messages, user, params.with_(n=1, seed=seed)))[0].text
            for line in _lines(reply):
                if any(line == old["text"] for old in segment.lines) or leaks(line, persona, window=6):
                    continue  # repeats (of itself, or of its instructions) do not fill the time
                segment.lines.append({"start_s": round(60 * spoken_words / persona.rate_wpm, 1), "text": line})
                words = len(line.split())
                spoken_words += words
                written += words
                if written >= target:
                    break
    return {
        "persona": persona.name,
        "topic": topic,
        "minutes": minutes,
        "rate_wpm": persona.rate_wpm,
        "spoken_minutes": round(spoken_words / persona.rate_wpm, 2),
        "segments": [asdict(s) for s in segments],
        "seconds": round(time.perf_counter() - started, 2),
    }


def teleprompter(script: dict[str, Any]) -> str:
    """Plain text for a teleprompter: each segment headed, each line with its start time."""

    def clock(seconds: float) -> str:
        return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"

    out = [f"{script['persona']}: {script['topic']} ({script['minutes']} min at {script['rate_wpm']} wpm)", ""]
    for segment in script["segments"]:
        out.append(f"== {segment['kind'].upper()}: {segment['title']} ({segment['minutes']:g} min) ==")
        out += [f"[{clock(line['start_s'])}] {line['text']}" for line in segment["lines"]]
        if segment["live"]:
            out.append(f"[LIVE] take questions from chat for {segment['minutes']:g} min")
        out.append("")
    return "\n".join(out)


def script_work(script: dict[str, Any], persona: Persona, model_info: dict[str, object], params: SamplingParams) -> Any:
    """The script as a Work: saved, listed, exported and checked like any other."""
    from fabula.forms.base import verdict
    from fabula.records import single_candidate_work

    text = teleprompter(script)
    filled = script["spoken_minutes"] / script["minutes"]
    verdicts = [
        verdict("timed", 0.8 <= filled <= 1.25, f"{script['spoken_minutes']} of {script['minutes']} minutes spoken"),
        verdict("segments", all(s["lines"] for s in script["segments"]), "every segment has lines"),
    ]
    return single_candidate_work(
        "stream-script",
        text,
        verdicts,
        engine=str(model_info.get("engine", "")),
        model=dict(model_info),
        params=params.to_dict(),
        seed=params.seed,
        user_prompt=script["topic"],
        inputs={"persona": persona.name, "minutes": str(script["minutes"])},
        template="stream-script",
        why="one script",
        seconds=script["seconds"],
        checks={"script": script},
    )
