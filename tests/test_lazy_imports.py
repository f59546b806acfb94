"""`fabula --help` and `import fabula` load no engine; the registry builds an engine once."""

from __future__ import annotations

import subprocess
import sys

import click
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


def test_help_imports_no_subcommand_and_every_listed_command_exists() -> None:
    from fabula.cli.main import COMMANDS, cli

    probe = (
        "from click.testing import CliRunner\nfrom fabula.cli.main import cli\nimport sys\n"
        "r = CliRunner().invoke(cli, ['--help'])\nassert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in sys.modules if m.startswith('fabula.cli.') and m != 'fabula.cli.main'))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name


NO_TORCH = """
import sys
sys.modules["torch"] = None  # any import of torch now fails
from click.testing import CliRunner
from fabula.cli.main import cli
for args in (["--help"], ["write", "poem", "a pond", "--set", "form=haiku", "--seed", "3", "--json"],
             ["write", "story", "a fox", "--creativity", "0.8", "--max-tokens", "120", "--seed", "3", "--json"],
             ["write", "quest", "a stolen lantern", "--seed", "3", "--json"]):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 3), (args, result.output, repr(result.exception))
    assert not isinstance(result.exception, (ImportError, AttributeError, TypeError)), (args, result.exception)
print("ok")
"""


@pytest.mark.slow
def test_the_default_engine_needs_no_torch(fabula_home: object) -> None:
    """A haiku (constrained, stepped), a --creativity story and a quest (JSON schema) on llama.cpp,
    and `fabula --help`, with torch made unimportable."""
    out = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_the_stepped_samplers_import_without_torch() -> None:
    code = "import sys\nsys.modules['torch'] = None\nimport fabula.decoding.constrained, fabula.decoding.antislop"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
