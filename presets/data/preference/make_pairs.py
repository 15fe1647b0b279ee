"""Write the DPO quickstart's pairs from the bundled chat set (../chat): run ``python make_pairs.py``.

Each single-reply conversation becomes one pair: the prompt is every turn before the reply, ``chosen`` is the
reply in the set's two-line shape ("Answer: ... / Why: ..."), ``rejected`` is the same facts as one plain
sentence (the reply's "Why" line). Preference tuning then teaches the shape without new facts, so the sample
replies before and after show what DPO changed.
"""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHAT = HERE.parent / "chat"


def pair(messages: list[dict]) -> dict | None:
    replies = [i for i, message in enumerate(messages) if message["role"] == "assistant"]
    if len(replies) != 1 or replies[0] != len(messages) - 1:
        return None
    chosen = messages[-1]["content"]
    why = next((line[len("Why: "):] for line in chosen.splitlines() if line.startswith("Why: ")), None)
    if not why:
        return None
    return {"prompt": messages[:-1], "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": why}]}


def main() -> None:
    for name in ("train", "eval"):
        rows = [json.loads(line) for line in (CHAT / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        pairs = [p for p in (pair(row["messages"]) for row in rows) if p is not None]
        (HERE / f"{name}.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs),
                                            encoding="utf-8")
        print(f"{name}: {len(pairs)} pairs from {len(rows)} conversations")


if __name__ == "__main__":
    main()
