"""Unpack a Debian package's files without installing it: `apt-get download`, then `dpkg-deb -x`.

Needs no root and no R: the corpora that Debian ships as R packages (Austen, Moby-Dick, Reuters)
are read straight out of the unpacked tree.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from fabula.errors import ConfigError


def run(command: list[str], cwd: Path) -> str:
    if shutil.which(command[0]) is None:
        raise ConfigError(f"`{command[0]}` is not available: this corpus comes from a Debian package")
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise ConfigError(f"`{' '.join(command)}` failed: {done.stderr.strip()[-400:]}")
    return done.stdout


def unpack(package: str, scratch: Path) -> tuple[str, Path]:
    """Download `package` into `scratch` and unpack it; (the .deb's file name, the unpacked root)."""
    run(["apt-get", "download", package], scratch)
    debs = sorted(scratch.glob(f"{package}_*.deb"))
    if not debs:
        raise ConfigError(f"apt-get download {package} produced no package")
    run(["dpkg-deb", "-x", str(debs[-1]), "root"], scratch)
    return debs[-1].name, scratch / "root"
