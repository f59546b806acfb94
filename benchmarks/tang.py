"""The Tang-poem model: validation loss, and ten 五言绝句 sampled free and ten under the verse constraint.

Free samples continue "《title》" with temperature 0.8 and top-k 40 until the end-of-poem newline;
constrained ones go through `fabula write poem --set form=wujue` (the gpt engine with the
character-level 平仄/rhyme constraint). Both are judged by the same validator.

    python benchmarks/tang.py --json benchmarks/results/tang.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fabula.backends import get_backend
from fabula.gpt.export import load_gpt
from fabula.gpt.registry import resolve_gpt
from fabula.pipeline import write
from fabula.sampling import SamplingParams
from fabula.settings import get_settings
from fabula.train.pretrain import sample
from fabula.verse.chinese import check_chinese

TITLES = ["春望", "秋思", "山行", "夜泊", "送别", "登楼", "江雪", "月夜", "边塞", "怀古"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tang-poems")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    settings = get_settings()
    folder = resolve_gpt(args.model, settings.ensure_home())
    model, tokenizer, config = load_gpt(folder)
    log = folder / "log.jsonl"
    val_loss = None
    if log.is_file():
        evals = [json.loads(line) for line in log.read_text().splitlines() if '"eval"' in line]
        val_loss = evals[-1]["val_loss"] if evals else None

    free = []
    for i, title in enumerate(TITLES):
        prompt = tokenizer.encode(f"《{title}》")
        ids = sample(model, prompt, 40, seed=i)
        text = tokenizer.decode(ids).split("\n")[0]
        free.append({"title": title, "text": text, "ok": check_chinese(text, "wujue")["ok"]})

    backend = get_backend("gpt", str(folder), settings)
    constrained = []
    for i, title in enumerate(TITLES):
        work = write(backend, "poem", title, {"form": "wujue"}, SamplingParams(seed=i, temperature=0.8, n=1))
        report = check_chinese(work.text, "wujue")
        constrained.append(
            {
                "title": title,
                "text": work.text.replace("\n", ""),
                "ok": report["ok"],
                "pattern": report["pattern"],
                "rhyme": report["rhyme"],
            }
        )

    result = {
        "model": folder.name,
        "parameters": model.num_parameters(),
        "val_loss": val_loss,
        "free_compliance": sum(p["ok"] for p in free),
        "constrained_compliance": sum(p["ok"] for p in constrained),
        "free": free,
        "constrained": constrained,
        "config": config["model"],
    }
    print(f"{folder.name}: {result['parameters']:,} parameters, validation loss {val_loss}")
    print(
        f"五言绝句 compliance: free {result['free_compliance']}/10, constrained {result['constrained_compliance']}/10"
    )
    for p in constrained:
        print(f"《{p['title']}》{p['text']}  {p['pattern']} {p['rhyme']}韵 {'✓' if p['ok'] else '✗'}")
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
