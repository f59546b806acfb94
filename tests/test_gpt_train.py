"""Tokenizers, data preparation, configs and the pretraining loop, including kill-and-resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fabula.errors import ConfigError
from fabula.gpt.tokenizers import BPETokenizer, CharTokenizer, load_tokenizer
from fabula.train.config import DataConfig, load_config
from fabula.train.prepare import load_split, prepare
from fabula.train.pretrain import lr_at, pretrain
from tests.gpt_fixtures import tiny_overrides, write_corpus


def test_char_tokenizer_round_trip_and_unknowns(tmp_path: Path) -> None:
    tok = CharTokenizer.train(["春风春雨", "秋月春"], min_count=2)
    assert tok.tokens == ["<unk>", "\n", "春"]
    assert tok.encode("春夏\n") == [2, 0, 1]
    assert tok.decode([2, 0, 1]) == "春□\n"
    tok.save(tmp_path)
    assert load_tokenizer(tmp_path).tokens == tok.tokens  # type: ignore[union-attr]


def test_bpe_tokenizer_round_trip(tmp_path: Path) -> None:
    texts = ["It is a truth universally acknowledged, that a single man in possession"] * 20
    tok = BPETokenizer.train(texts, vocab_size=300)
    text = "a truth universally acknowledged; naïve café"
    assert tok.decode(tok.encode(text)) == text  # byte-level: nothing is unknown
    tok.save(tmp_path)
    again = load_tokenizer(tmp_path)
    assert again.encode(text) == tok.encode(text)
    tokens, merges = tok.vocab_and_merges()
    assert len(tokens) == tok.vocab_size and tokens[tok.eot_id] == "<|endoftext|>" and merges
    with pytest.raises(ConfigError, match="vocab_size=100"):
        BPETokenizer.train(texts, vocab_size=100)


def test_missing_or_foreign_tokenizer_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tokenizer.json is missing"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"kind": "sentencepiece"}')
    with pytest.raises(ConfigError, match="unknown tokenizer kind"):
        load_tokenizer(tmp_path)


def test_prepare_dedups_splits_by_document_and_is_cached(tmp_path: Path, fabula_home: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "copy.txt").write_text((corpus / "poem000.txt").read_text(encoding="utf-8"), encoding="utf-8")
    config = DataConfig(corpus=str(corpus), tokenizer="char", min_count=1, val_fraction=0.2)
    folder = prepare(config, fabula_home)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["duplicates_removed"] == 1
    assert meta["train"]["documents"] + meta["val"]["documents"] == 60
    assert meta["val"]["documents"] > 0
    train, val = load_split(folder, "train"), load_split(folder, "val")
    assert train.dtype == np.uint16 and len(train) == meta["train"]["tokens"]
    tok = load_tokenizer(folder)
    docs = tok.decode(val.tolist()).strip("\n").split("\n")
    train_docs = set(tok.decode(train.tolist()).strip("\n").split("\n"))
    assert docs and not set(docs) & train_docs  # no document on both sides
    mtime = (folder / "train.bin").stat().st_mtime_ns
    assert prepare(config, fabula_home) == folder and (folder / "train.bin").stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    ("corpus", "message"),
    [("no/such/folder", "use tang, ci, austen, or a folder"), ("EMPTY", "has no .txt files")],
)
def test_prepare_names_a_bad_corpus(tmp_path: Path, fabula_home: Path, corpus: str, message: str) -> None:
    if corpus == "EMPTY":
        corpus = str(tmp_path)
    with pytest.raises(ConfigError, match=message):
        prepare(DataConfig(corpus=corpus), fabula_home)


def test_prepare_refuses_non_utf8(tmp_path: Path, fabula_home: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(ConfigError, match="latin1.txt is not UTF-8"):
        prepare(DataConfig(corpus=str(tmp_path)), fabula_home)


def test_config_overrides_and_their_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('name = "x"\n[model]\nn_layer = 3\n[train]\nlearning_rate = 0.01\n')
    cfg = load_config(path, ["train.max_steps=7", "model.fused=false", "data.corpus=austen"])
    assert (cfg.name, cfg.model.n_layer, cfg.train.max_steps, cfg.model.fused) == ("x", 3, 7, False)
    assert cfg.train.learning_rate == 0.01 and cfg.data.corpus == "austen"
    with pytest.raises(ConfigError, match="override .max_steps=7.: write section.key=value"):
        load_config(path, ["max_steps=7"])
    with pytest.raises(ConfigError, match="expected a int"):
        load_config(path, ["train.max_steps=many"])
    path.write_text("[model]\nn_layers = 3\n")
    with pytest.raises(ConfigError, match=r"\[model\] n_layers: unknown setting"):
        load_config(path)
    path.write_text("[model]\nn_embd = 30\nn_head = 4\n")
    with pytest.raises(ConfigError, match="divisible"):
        load_config(path)


def test_learning_rate_warms_up_then_decays(tmp_path: Path) -> None:
    cfg = load_config(
        None, ["train.max_steps=100", "train.warmup_steps=10", "train.learning_rate=1.0", "train.min_lr=0.1"]
    )
    rates = [lr_at(s, cfg) for s in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:], strict=False))
    assert rates[-1] == pytest.approx(0.1, abs=1e-3)


def test_pretrain_learns_and_writes_a_model_folder(tmp_path: Path, fabula_home: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    cfg = load_config(None, tiny_overrides(corpus, 60))
    out = tmp_path / "model"
    events: list[dict[str, object]] = []
    summary = pretrain(cfg, out, fabula_home, on_event=events.append)
    losses = [e["loss"] for e in events if e["event"] == "train"]
    assert len(losses) == 60
    assert float(np.mean(losses[-10:])) < float(np.mean(losses[:5])) - 1.0  # it learned the corpus
    assert summary["val_loss"] is not None and summary["val_loss"] < 2.5
    for name in ("config.json", "tokenizer.json", "model.safetensors", "checkpoint.pt", "log.jsonl", "loss.png"):
        assert (out / name).is_file(), name
    with pytest.raises(ConfigError, match="already holds a checkpoint"):
        pretrain(cfg, out, fabula_home)


def test_killed_run_resumes_to_the_same_losses_and_weights(tmp_path: Path, fabula_home: Path) -> None:
    """SIGKILL a real training process after a checkpoint; --resume must equal an uninterrupted run."""
    corpus = write_corpus(tmp_path / "corpus")
    overrides = tiny_overrides(corpus, 40)
    env = {**os.environ, "FABULA_HOME": str(fabula_home), "PYTHONUNBUFFERED": "1"}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    command = [sys.executable, "-c", "from fabula.cli.main import main; main()", "train", "pretrain", "--json"]
    subprocess.run([*command, "--out", str(straight), *overrides], env=env, check=True, capture_output=True)

    with subprocess.Popen(
        [*command, "--out", str(killed), *overrides], env=env, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            event = json.loads(line)
            if event["event"] == "checkpoint" and event["step"] == 20:
                process.send_signal(signal.SIGKILL)
                break
        process.wait()
    assert process.returncode == -signal.SIGKILL
    state = torch.load(killed / "checkpoint.pt", weights_only=False)
    assert 20 <= state["step"] < 40  # it really died part-way

    subprocess.run([*command, "--out", str(killed), "--resume", *overrides], env=env, check=True, capture_output=True)
    a = torch.load(straight / "checkpoint.pt", weights_only=False)
    b = torch.load(killed / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 40
    assert a["history"]["train"] == b["history"]["train"]
    assert a["history"]["val"] == b["history"]["val"]
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def test_resume_refuses_a_changed_config_or_a_missing_checkpoint(tmp_path: Path, fabula_home: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    out = tmp_path / "m"
    with pytest.raises(ConfigError, match="does not exist"):
        pretrain(load_config(None, tiny_overrides(corpus, 10)), out, fabula_home, resume=True)
    pretrain(load_config(None, tiny_overrides(corpus, 10)), out, fabula_home)
    changed = load_config(None, [*tiny_overrides(corpus, 20), "train.learning_rate=0.5"])
    with pytest.raises(ConfigError, match="configuration differs"):
        pretrain(changed, out, fabula_home, resume=True)
    longer = pretrain(load_config(None, tiny_overrides(corpus, 20)), out, fabula_home, resume=True)
    assert longer["step"] == 20


def test_cli_takes_dashed_overrides_and_names_bad_ones(tmp_path: Path, fabula_home: Path) -> None:
    from click.testing import CliRunner

    from fabula.cli.main import cli

    corpus = write_corpus(tmp_path / "corpus")
    dashed = [f"--{o}" for o in tiny_overrides(corpus, 3)]
    result = CliRunner().invoke(cli, ["train", "pretrain", "--out", str(tmp_path / "m"), "--json", *dashed])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["step"] == 3
    result = CliRunner().invoke(cli, ["train", "pretrain", "--out", str(tmp_path / "n"), "--model.n_layers=2"])
    assert result.exit_code == 2 and "override '--model.n_layers=2'" in result.output


def test_a_run_started_from_a_model_keeps_its_vocabulary_and_its_weights(tmp_path: Path, fabula_home: Path) -> None:
    """Fine-tuning (train.init_from): the corpus is encoded with the base model's tokenizer, a
    character it never saw is <unk>, and training starts where the base left off, not from noise."""
    base = tmp_path / "base"
    pretrain(load_config(None, tiny_overrides(write_corpus(tmp_path / "a"), 60)), base, fabula_home)
    other = write_corpus(tmp_path / "b", seed=1)
    # 龘 is not in the base's vocabulary
    (other / "new.txt").write_text("《龘》龘龘龘龘龘，春花秋月山。\n", encoding="utf-8")
    tuned_events: list[dict[str, object]] = []
    fresh_events: list[dict[str, object]] = []
    tuned = load_config(None, [*tiny_overrides(other, 3), f"train.init_from={base}"])
    pretrain(tuned, tmp_path / "tuned", fabula_home, on_event=tuned_events.append)
    pretrain(load_config(None, tiny_overrides(other, 3)), tmp_path / "fresh", fabula_home, on_event=fresh_events.append)

    assert load_tokenizer(tmp_path / "tuned").tokens == load_tokenizer(base).tokens  # type: ignore[union-attr]
    assert "龘" in load_tokenizer(tmp_path / "fresh").tokens  # type: ignore[union-attr]
    data = next(e["data"] for e in tuned_events if e["event"] == "start")
    meta = json.loads((fabula_home / str(data).removeprefix("FABULA_HOME/") / "meta.json").read_text())
    assert meta["train"]["unknown"] + meta["val"]["unknown"] == 6
    first = [next(float(e["loss"]) for e in events if e["event"] == "train") for events in (tuned_events, fresh_events)]  # type: ignore[arg-type]
    assert first[0] < first[1] - 1.0  # the base already knows these characters


def test_a_run_started_from_a_model_refuses_another_shape(tmp_path: Path, fabula_home: Path) -> None:
    corpus = write_corpus(tmp_path / "a")
    pretrain(load_config(None, tiny_overrides(corpus, 2)), tmp_path / "base", fabula_home)
    wider = load_config(None, [*tiny_overrides(corpus, 2), "model.n_embd=64", f"train.init_from={tmp_path / 'base'}"])
    with pytest.raises(ConfigError, match="has model.n_embd=32; set the same"):
        pretrain(wider, tmp_path / "wider", fabula_home)
    with pytest.raises(ConfigError, match="GPT model 'no-such-model' not found"):
        missing = load_config(None, [*tiny_overrides(corpus, 2), "train.init_from=no-such-model"])
        pretrain(missing, tmp_path / "x", fabula_home)
    bpe = load_config(None, [*tiny_overrides(corpus, 2), "data.tokenizer=bpe", f"train.init_from={tmp_path / 'base'}"])
    with pytest.raises(ConfigError, match="has a char tokenizer; set data.tokenizer=char"):
        pretrain(bpe, tmp_path / "y", fabula_home)
