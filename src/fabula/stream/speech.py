"""Speech: each reply or script line to a WAV file with Debian's espeak-ng, with its duration.

espeak-ng is a formant synthesizer: robotic, but offline, fast (hundreds of times real time) and
in Debian. The voice and rate come from the persona. Durations are read back from the WAV
header, so a show's timeline (when each reply starts and ends) is exact for the audio written.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

from fabula.errors import ConfigError, InvalidParam


def find_espeak() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise ConfigError("speech needs espeak-ng: apt-get install espeak-ng (Debian), or leave --speak off")
    return path


def speak(text: str, path: Path, voice: str = "en-us", wpm: int = 160) -> float:
    """Write `text` as speech to `path` (WAV); returns its length in seconds."""
    if not text.strip():
        raise InvalidParam("text", text, "nothing to say")
    espeak = find_espeak()
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [espeak, "-v", voice, "-s", str(wpm), "-w", str(path), "--", text],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0 or not path.is_file():
        raise ConfigError(f"espeak-ng failed for voice {voice!r}: {done.stderr.strip()[:200]}")
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / float(audio.getframerate())
