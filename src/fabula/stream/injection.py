"""Chat messages that give the character orders: found at intake, answered alone and by a line of
the character's own, never by the model.

The prompt already treats chat as data (`prompting.assemble`), and on SmolLM2 that holds: 0% of
planted orders are spoken. A larger model is more obliging: Qwen2.5 spoke the planted word in 60
to 90% of hijack probes, and in a trial the embedded model partly obeyed a "DAN" message and sent
that reply to an innocent viewer batched with it. A defence inside the prompt can only lower
those odds. This one removes them for the messages it recognises: an order to the character
(ignore your instructions, you are now DAN, developer mode, say exactly X, your new name is X,
show your system prompt, any of these in base64, a forged special token such as `<|im_start|>`, `<start_of_turn>` or
`[INST]`) is never put in a
prompt; it is answered on its own, so no other viewer's reply is touched, with a deflection in
the character's name (and catchphrase).

What it misses (an order in words no pattern knows) still meets the prompt's defences and the
spoken-side leak guard; `benchmarks/streamer.py` measures both.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

from fabula.responsible.safety import INVISIBLE, LOOKALIKES

ORDERS = re.compile(
    r"""
    \b(ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,30}\b(instructions?|rules|prompt|guidelines|programming)\b
    | \byou\s+are\s+now\s+(called|named|free|unfiltered|unrestricted|jailbroken)\b
    | \byou\s+are\s+no\s+longer\s+(bound|restricted|an?\s+ai)\b
    | (?-i:\bDAN\b) | \b(do\s+anything\s+now|jailbr[eo]\w*|developer\s+mode|god\s+mode|unfiltered\s+mode)\b
    | \b(system|developer|hidden)\s+(prompt|message|instructions?)\b
    | \byour\s+(instructions|prompt|programming|secret\s+code|new\s+name|system)\b
    | \b(new|changed?)\s+(rule|rules|instructions?)\b | \brules\s+(have\s+)?changed\b
    | \b(reply|respond|answer)\s+(only\s+with|with\s+(only\s+|just\s+)?the\s+word)\b
    | \b(repeat|say|type|print|output)\s+(after\s+me|exactly|only\s+the|the\s+word|everything\s+above)\b
    | \bsay\s+(?-i:[A-Z0-9_-]{4,})\s+(or|now|again|twice|three\s+times|\d+\s+times)\b
    | \bfrom\s+now\s+on\s+(you|your|always|only|reply|respond|say|answer)\b
    | \boutput\s+everything\b | \bword\s+for\s+word\b
    | \b(secret\s+code|complete\s+the\s+code|need\s+the\s+code)\b | \brules\s+you\s+were\s+given\b
    | \bincluding\s+(any\s+)?(secrets|codes)\b
    | <\|?\s*/?\s*(im_start|im_end|system|assistant|user)\s*\|?>
    | <\s*\|[^<>\n]{1,40}\|\s*> | <\s*/?\s*[a-z]+(_[a-z]+)+\s*> | (?-i:\[/?[A-Z]+(_[A-Z]+)+\])
    | \[/?(inst|sys)\]
    | ^\s*(system|assistant)\s*:
    | \#\#\#\s*(instruction|response|system)
    | </?\s*(audience|memory)\s*>
    """,
    re.IGNORECASE | re.VERBOSE | re.MULTILINE,
)
DEFLECTION = "Nice try, {user}! I'm {name}, and I'm staying exactly who I am."


BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


def gives_orders(text: str) -> str | None:
    """The words that make `text` an order to the character, or None for ordinary chat."""
    # disguises undone as for the safety classifier (full-width forms, zero-width marks, Cyrillic
    # look-alikes), but case kept: "DAN" is an order, "dan" a viewer; a larger model reads base64
    plain = INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).translate(LOOKALIKES)
    for candidate in (plain, *(_decoded(m.group()) for m in BASE64.finditer(plain))):
        found = ORDERS.search(candidate)
        if found:
            return " ".join(found.group().split())
    return None


def _decoded(chunk: str) -> str:
    try:
        return base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""


def deflection(name: str, user: str, catchphrases: tuple[str, ...] = ()) -> str:
    """What the character says to an order: a good-humoured no, with its catchphrase if it has one."""
    line = DEFLECTION.format(name=name, user=" ".join(user.split())[:40] or "friend")
    return f"{line} {catchphrases[0]}" if catchphrases else line
