"""`fabula --help` and `import fabula` load no engine; the registry builds an engine once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fabula.backends import ENGINES, close_all, engine_class, get_backend
from fabula.errors import ConfigError
from fabula.settings import Settings

HEAVY = ("torch", "transformers", "xllamacpp", "gguf", "sqlalchemy", "numpy")


def loaded_heavy_modules(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own printed list


def test_help_imports_no_engine() -> None:
    code = (
        "from click.testing import CliRunner\nfrom fabula.cli.main import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\nassert r.exit_code == 0\n"
        "r = CliRunner().invoke(cli, ['write', '--help'])\nassert r.exit_code == 0"
    )
    assert loaded_heavy_modules(code) == []


def test_import_fabula_and_pipeline_import_no_engine() -> None:
    assert loaded_heavy_modules("import fabula, fabula.pipeline, fabula.backends") == []


def test_registry_names_and_unknown_engine() -> None:
    assert set(ENGINES) == {"llamacpp", "hf", "gpt", "openai", "fake"}
    with pytest.raises(ConfigError, match="engine 'nope' is unknown; choose one of: llamacpp"):
        engine_class("nope")


def test_backend_is_built_once_per_model(settings: Settings) -> None:
    close_all()
    first = get_backend("fake", "fake-sample", settings)
    assert get_backend("fake", "fake-sample", settings) is first
    assert get_backend("fake", "echo", settings) is not first
    close_all()
