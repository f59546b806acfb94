"""Unpack a Debian package's files without installing it: `apt-get download`, then `dpkg-deb -x`.

Needs no root and no R: the corpora that Debian ships as R packages (Austen, Moby-Dick, Reuters)
are read straight out of the unpacked tree.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fabula.errors import ConfigError

LOG = logging.getLogger(__name__)


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


def cached_corpus(
    target: Path, package: str, build: Callable[[str, Path, Path], dict[str, Any]], force: bool = False
) -> dict[str, Any]:
    """A corpus from a Debian package, installed under `target` once: its manifest is returned as
    it stands unless `force`. Otherwise the package is unpacked in a scratch folder and
    `build(deb_name, unpacked_root, target)` writes the corpus files and returns the manifest,
    which is written last (atomically), so a crash mid-build leaves no manifest and builds again."""
    manifest_path = target / "manifest.json"
    if manifest_path.is_file() and not force:
        return json.loads(manifest_path.read_text())  # type: ignore[no-any-return]
    from fabula.files import write_atomic

    LOG.info("building the %s corpus from the Debian package %s", target.name, package)
    with tempfile.TemporaryDirectory(prefix=f"fabula-{package}-") as scratch:
        deb, root = unpack(package, Path(scratch))
        LOG.info("unpacked %s", deb)
        target.mkdir(parents=True, exist_ok=True)
        manifest = build(deb, root, target)
    write_atomic(manifest_path, json.dumps(manifest, indent=1))
    LOG.info("corpus %s ready in %s", target.name, target)
    return manifest


def r_data(root: Path, where: str, deb: str) -> dict[str, Any]:
    """The objects of an R package's lazy-load database found under `root` at `.../where`."""
    from fabula.data.rdata import read_lazyload

    data = next(root.rglob(where), None)
    if data is None or not (data / "Rdata.rdx").is_file():
        raise ConfigError(f"{deb} has no R data where expected")
    return read_lazyload(data / "Rdata.rdx", data / "Rdata.rdb")
