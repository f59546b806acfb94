"""A real llama.cpp HTTP server on 127.0.0.1 (xllamacpp, embedded model) for integration tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fabula.models import default_model_path


@dataclass
class LlamaServer:
    url: str  # base URL with /v1
    api_key: str
    handle: Any

    def stop(self) -> None:
        self.handle = None


def start_llama_server(api_key: str = "test-key", threads: int = 2) -> LlamaServer:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(default_model_path())
    params.n_ctx = 2048
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = -1
    # as the llamacpp engine runs: with flash attention the bits, and so a seed's text, differ
    params.flash_attn_type = xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
    params.api_keys = [api_key]
    params.model_alias = "smollm2"
    server = xllamacpp.Server(params)
    address = server.listening_address
    assert address.startswith("http://127.0.0.1:"), address
    return LlamaServer(url=address + "/v1", api_key=api_key, handle=server)
