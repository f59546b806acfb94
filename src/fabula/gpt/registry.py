"""Where our GPT models live: shipped inside the package, or trained into FABULA_HOME/models.

`--engine gpt --model NAME` looks for NAME as a folder path, then under FABULA_HOME/models, then
among the models shipped with fabula (the Tang-poem model, so Chinese verse works right after
set-up). `fabula train pretrain` writes to FABULA_HOME/models/<config name> unless told `--out`.
"""

from __future__ import annotations

from pathlib import Path

from fabula.errors import ConfigError

SHIPPED = Path(__file__).parent / "shipped"
DEFAULT_GPT = "tang-poems"


def user_models(home: Path) -> Path:
    return home / "models"


def available(home: Path) -> dict[str, Path]:
    """Every model by name; a trained model shadows a shipped one of the same name."""
    from fabula.gpt.export import is_gpt_folder

    found: dict[str, Path] = {}
    for root in (SHIPPED, user_models(home)):
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if is_gpt_folder(folder):
                    found[folder.name] = folder
    return found


def resolve_gpt(model: str, home: Path) -> Path:
    from fabula.gpt.export import is_gpt_folder

    name = model or DEFAULT_GPT
    path = Path(name).expanduser()
    if path.is_dir():
        if not is_gpt_folder(path):
            raise ConfigError(f"{name!r} is not a fabula GPT folder (config.json, tokenizer.json, model.safetensors)")
        return path
    models = available(home)
    if name in models:
        return models[name]
    known = ", ".join(models) or "none yet"
    raise ConfigError(f"GPT model {name!r} not found; known: {known} (train one with `fabula train pretrain`)")
