"""The `gpt` engine: our own pretrained models, steerable like the hf engine.

A fabula GPT folder is exported once (losslessly, see `fabula.gpt.export`) to a Hugging Face
GPT-2 checkpoint cached under FABULA_HOME, keyed by the weights' hash, and then decoded by the hf
engine's loop, so every logits processor and the verse constraints work on it unchanged. The
equality of our model, the export and the GGUF is a test, not an assumption.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fabula.backends.hf import HFBackend
from fabula.models import file_sha256
from fabula.settings import Settings

ENGINE = "gpt"


class GPTBackend(HFBackend):
    name = ENGINE
    stop_at_context = True  # 128 characters for the Tang model: a long request ends at the context

    def __init__(self, model: str, settings: Settings) -> None:
        super().__init__(model, settings)
        self.model_name = self.gpt_folder.name
        self.capabilities = replace(self.capabilities, instructions=False, chat_template=False)

    def _resolve(self, model: str, settings: Settings) -> tuple[Path, Path | None]:
        from fabula.gpt.export import export_hf
        from fabula.gpt.registry import resolve_gpt

        self.gpt_folder = resolve_gpt(model, settings.ensure_home())
        digest = file_sha256(self.gpt_folder / "model.safetensors", settings.home / "cache")
        target = settings.home / "cache" / "gpt-hf" / f"{self.gpt_folder.name}-{digest[:12]}"
        if not (target / "config.json").is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            export_hf(self.gpt_folder, target)
        return target, None

    def model_info(self) -> dict[str, object]:
        weights = self.gpt_folder / "model.safetensors"
        return {
            "name": self.gpt_folder.name,
            "path": str(self.gpt_folder),
            "sha256": file_sha256(weights, self.settings.home / "cache"),
            "dtype": self.settings.hf_dtype,
        }
