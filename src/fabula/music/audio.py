"""Render a MIDI melody to WAV with FluidSynth and a General MIDI soundfont, where installed.

Neither is a Python package: on Debian `apt-get install fluidsynth timgm6mb-soundfont` (or
fluid-soundfont-gm). FABULA_SOUNDFONT may name any .sf2 file. Without them, asking for audio is a
clear error; MIDI and ABC never depend on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from fabula.errors import ConfigError

SOUNDFONTS = (
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)
INSTALL_HINT = "install a synthesizer: apt-get install fluidsynth timgm6mb-soundfont"


def find_synth() -> tuple[str, str]:
    binary = shutil.which("fluidsynth")
    if binary is None:
        raise ConfigError(f"no fluidsynth found to render audio; {INSTALL_HINT}")
    chosen = os.environ.get("FABULA_SOUNDFONT")
    candidates = [chosen] if chosen else list(SOUNDFONTS)
    for font in candidates:
        if font and Path(font).is_file():
            return binary, font
    raise ConfigError(f"no General MIDI soundfont found ({chosen or ', '.join(SOUNDFONTS)}); {INSTALL_HINT}")


def render_wav(midi: Path, wav: Path, sample_rate: int = 44100) -> Path:
    binary, font = find_synth()
    wav.parent.mkdir(parents=True, exist_ok=True)
    tmp = wav.with_name(f".{wav.stem}.{os.getpid()}.tmp.wav")
    command = [binary, "-ni", "-q", "-g", "0.8", "-r", str(sample_rate), "-F", str(tmp), font, str(midi)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"fluidsynth took over 300 s rendering {midi}") from exc
    if done.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"fluidsynth failed on {midi}: {done.stderr.strip()[-300:]}")
    os.replace(tmp, wav)
    return wav
