"""The streamer live in a real IRC channel: 1,000 messages from 20 viewer sockets at 5 a second,
with the server killed and restarted halfway.

    python benchmarks/irc_live.py --json benchmarks/results/irc_live.json

ngIRCd runs on 127.0.0.1 (Debian's package; the tests' launcher). The streamer is
`service.streams.run_live` on the embedded model, exactly what `fabula stream live` runs, with
Twitch's default send rate (20 lines in 30 s). The chat is `streamer.py`'s synthetic log (greetings,
questions, mentions, spam, threats, donations), each message said by one of 20 viewer sockets in
turn. Halfway, the server is killed; 3 s later it is started again and the viewers join again
(chat pauses until the streamer is back in the channel, and goes on from there). An observer socket hears the channel.
Reported: verdicts (every message the server delivered gets exactly one), the answer latency
(message heard by the streamer to reply ready) and the channel latency (message said to the reply
addressed to its viewer heard in the channel) p50/p95, the most lines sent (and heard) in any
30 s, reconnections,
lines left unsent, and resident memory after every 100 verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from functools import partial
from operator import contains
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' IRC server launcher

from streamer import PERSONA, chat_log, resident_mib  # noqa: E402
from tests.irc_helpers import IrcServer, Viewer  # noqa: E402

VIEWERS = 20


def percentile(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2) if ordered else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("FABULA_HOME", tempfile.mkdtemp(prefix="fabula-irc-"))
    from fabula.backends import get_backend
    from fabula.service.streams import LiveSession, run_live
    from fabula.settings import get_settings
    from fabula.stream.irc import IrcChat
    from fabula.stream.persona import persona_from_dict

    settings = get_settings()
    backend = get_backend("llamacpp", "", settings)
    session = LiveSession(persona_from_dict(PERSONA), backend, settings)
    folder = Path(tempfile.mkdtemp(prefix="fabula-ngircd-"))
    server = IrcServer(folder)
    server.start()
    nicks = [f"viewer{i}" for i in range(VIEWERS)]
    viewers = [Viewer(server.port, nick) for nick in nicks]
    observer = Viewer(server.port, "observer")
    rss: list[int] = []

    def verdict(outcome: Any) -> None:
        if len(session.outcomes) % 100 == 0:
            rss.append(resident_mib())

    seconds = args.messages / args.rate + 40  # room for the restart and the last answers
    result: dict[str, Any] = {}
    irc = IrcChat("127.0.0.1", server.port, "#test", "luna")
    live = threading.Thread(
        target=lambda: result.update(run_live(session, irc, seconds, on_outcome=verdict)), daemon=True
    )
    live.start()
    assert observer.wait_for(lambda: "luna" in observer.joined, 60), "the streamer did not join"
    said: list[tuple[float, str, str]] = []  # (time, nick, text) of what reached the server
    unsaid = 0
    heard_lines: list[tuple[float, str, str]] = []  # (time, speaker, text) heard by observers, all runs
    rows = chat_log(args.messages)
    start = time.monotonic()
    down_s = 0.0
    for i, row in enumerate(rows):
        delay = start + down_s + i / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if i == len(rows) // 2:  # kill the server; start it again 3 s later; chat goes on once luna is back
            heard_lines += observer.timed
            killed = time.monotonic()
            server.kill()
            time.sleep(3)
            server.start()
            viewers = [Viewer(server.port, nick) for nick in nicks]
            observer = Viewer(server.port, "observer")
            back = observer.wait_for(partial(contains, observer.joined, "luna"), 60)
            down_s = time.monotonic() - killed
            result["rejoined_after_s"] = round(down_s, 2) if back else None
        viewer = viewers[i % VIEWERS]
        try:
            viewer.say(row["text"])
            said.append((time.monotonic(), viewer.nick, row["text"]))
        except OSError:
            unsaid += 1
    live.join(timeout=seconds + 120)
    heard_lines += observer.timed
    server.kill()
    replies = result["replies"]
    verdicts = Counter(r["verdict"] for r in replies)
    answered = [r for r in replies if r["verdict"] == "answered"]
    luna = [(t, text) for t, who, text in heard_lines if who == "luna"]
    channel_latency = []  # said -> its own reply heard: matched by viewer, words, and the reply's opening
    unmatched = list(said)
    for r in answered:
        sent = next((s for s in unmatched if s[1] == r["user"] and s[2] == r["message"]), None)
        if sent is None:
            continue
        unmatched.remove(sent)
        opening = " ".join(r["reply"].split())[:60]  # within a reply's first line, and its own
        heard_at = next(
            (t for t, line in luna if t >= sent[0] and f"@{r['user']}" in line.split() and opening in line),
            None,
        )
        if heard_at is not None:
            channel_latency.append(heard_at - sent[0])

    def busiest(times: list[float]) -> int:
        return max((sum(1 for u in times if t <= u < t + 30) for t in times), default=0)

    report = {
        "messages_in_log": len(rows),
        "said_while_the_server_was_up": len(said),
        "not_said_socket_errors": unsaid,
        "server_down_until_the_streamer_rejoined_s": result.get("rejoined_after_s"),
        "verdicts_received": len(replies),
        "every_message_heard_has_one_verdict": len({r["id"] for r in replies}) == len(replies),
        "verdicts": dict(verdicts),
        "answer_latency_p50_s": percentile([r["latency_s"] for r in answered], 0.5),
        "answer_latency_p95_s": percentile([r["latency_s"] for r in answered], 0.95),
        "channel_latency_p50_s": percentile(channel_latency, 0.5),
        "channel_latency_p95_s": percentile(channel_latency, 0.95),
        "answered_replies_heard": len(channel_latency),
        "lines_heard_from_the_streamer": len(luna),
        "most_lines_sent_in_30_s": busiest([t for t, _ in irc.sent]),  # the limit: 20
        "most_lines_heard_in_30_s": busiest(sorted(t for t, _ in luna)),  # delivery jitter included
        "summary": result["summary"],
        "resident_mib_every_100": rss,
    }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
