"""Preference data (DPO pairs, KTO replies): rows -> prompt and reply tokens (the trainers: engine.training.preference).

A pair is read as two prompt/completion conversations that share the prompt, and each is rendered and
tokenized whole with the model's chat template (engine.data.chat), so the completion tokens are exactly the reply
and its end marker. Rows come as TRL writes them (``prompt``, ``chosen``, ``rejected``: strings or message
lists; or only ``chosen`` and ``rejected`` as whole conversations sharing their first turns) or as
LLaMA-Factory's ranking rows (``conversations`` + a ``chosen`` and a ``rejected`` turn). Over-long and
unreadable pairs follow the same ``data.overlong`` and ``data.max_bad_rows`` policies as SFT rows.

KTO rows are one reply with a desirable/undesirable ``label``: ``prompt`` + ``completion`` (TRL), or
``messages`` ending with the reply (LLaMA-Factory's kto rows).
"""
from __future__ import annotations

from fttui.engine.data.chat import IGNORE_INDEX, encode
from fttui.errors import DataError

PAIR_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")
UNPAIRED_COLUMNS = ("prompt_ids", "completion_ids")  # and "label", a bool
TRUE, FALSE = ("true", "yes", "1", "desirable", "good"), ("false", "no", "0", "undesirable", "bad")
PROMPT_SOURCES = ("prompt", "conversations", "messages")


def _as_turns(value):
    return [value] if isinstance(value, dict) else value


def _split_implicit(chosen: list, rejected: list, where: str) -> tuple[list, list, list]:
    """Whole conversations for both replies: the shared first turns are the prompt."""
    shared = 0
    while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
        shared += 1
    if shared == 0:
        raise DataError(f"{where}: 'chosen' and 'rejected' share no prompt turn; add a 'prompt' column")
    return chosen[:shared], chosen[shared:], rejected[shared:]


def read_pair(row: dict, where: str) -> tuple[object, object, object]:
    """(prompt, chosen, rejected) of a pair row, each a string or a list of turns."""
    chosen, rejected = _as_turns(row.get("chosen")), _as_turns(row.get("rejected"))
    for name, value in (("chosen", chosen), ("rejected", rejected)):
        if value is None or (isinstance(value, str) and not value.strip()) or value == []:
            raise DataError(f"{where}: '{name}' is missing or empty")
    source = next((name for name in PROMPT_SOURCES if row.get(name) is not None), None)
    if source is None:
        if not isinstance(chosen, list) or not isinstance(rejected, list):
            raise DataError(f"{where}: no 'prompt' (or 'conversations') for the pair; columns found: {', '.join(row)}")
        prompt, chosen, rejected = _split_implicit(chosen, rejected, where)
    else:
        prompt = row[source]
    if (isinstance(prompt, str) and not prompt.strip()) or prompt == []:
        raise DataError(f"{where}: the prompt is empty")
    if chosen == rejected:
        raise DataError(f"{where}: 'chosen' and 'rejected' are the same reply: nothing to prefer")
    return prompt, chosen, rejected


def _completion(ids: list[int], labels: list[int]) -> tuple[int, int]:
    trained = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
    return trained[0], trained[-1] + 1


def fit_pair(prompt: list[int], chosen: list[int], rejected: list[int], max_length: int, keep_first: bool):
    """Prompt trimmed from the left (BOS kept) so prompt + the longer reply fit; a reply that alone leaves less
    than a quarter of the length for context loses its end."""
    longest = max(len(chosen), len(rejected))
    if len(prompt) + longest <= max_length:
        return prompt, chosen, rejected
    keep = 1 if keep_first and prompt else 0
    context = max(max_length - longest, min(len(prompt), max_length // 4))
    prompt = prompt[:keep] + prompt[len(prompt) - (context - keep):] if context > keep else prompt[:keep]
    room = max_length - len(prompt)
    return prompt, chosen[:room], rejected[:room]


def encode_pair(row: dict, where: str, render, tokenizer) -> tuple[list[int], list[int], list[int]]:
    """Token ids of the shared prompt and of each reply (its end marker included).

    ``render(row, where)`` renders a prompt/completion row to (text, trained spans, notes).
    """
    prompt, chosen, rejected = read_pair(row, where)
    halves = [_split(prompt, reply, row.get("system"), where, render, tokenizer) for reply in (chosen, rejected)]
    (chosen_ids, chosen_start, chosen_end), (rejected_ids, rejected_start, rejected_end) = halves
    shared = 0
    limit = min(chosen_start, rejected_start)
    while shared < limit and chosen_ids[shared] == rejected_ids[shared]:
        shared += 1
    return chosen_ids[:shared], chosen_ids[shared:chosen_end], rejected_ids[shared:rejected_end]


def requested_format(config) -> str:
    """data.format, with auto read as the objective's format where it has one (KTO rows look like chat rows)."""
    from fttui.config.schema import PREFERENCE_OBJECTIVES

    if config.data.format == "auto" and config.training.objective == "kto":
        return PREFERENCE_OBJECTIVES["kto"]
    return config.data.format


PREFERENCE_FORMATS = ("preference", "unpaired")


def as_reply_row(row: dict, fmt: str, where: str) -> tuple[dict, object]:
    """A preference row as the prompt/completion row of its (chosen) reply, and what that reply is weighed
    against: the rejected reply (a pair) or the desirable label (KTO). For sample prompts and the preview."""
    prompt, reply, other = read_pair(row, where) if fmt == "preference" else read_unpaired(row, where)
    return {"prompt": prompt, "completion": reply, "system": row.get("system")}, other


def check_objective(layout, config, source: str) -> None:
    """The data's format must be the one the objective reads: pairs for DPO, labelled replies for KTO, and
    neither for SFT (a pair file trained as SFT would learn the rejected replies too)."""
    from fttui.config.schema import PREFERENCE_OBJECTIVES

    objective = config.training.objective
    wanted = PREFERENCE_OBJECTIVES.get(objective)
    if wanted is None and layout.format in PREFERENCE_OBJECTIVES.values():
        raise DataError(f"{source}: the rows are {layout.format} data (chosen/rejected replies), but "
                        "training.objective is sft", "set training.objective=dpo or orpo to learn from the pairs")
    if wanted is not None and layout.format != wanted:
        shape = "prompt, chosen and rejected" if wanted == "preference" else "prompt, completion and label"
        raise DataError(f"{source}: training.objective={objective} needs {shape} columns; the rows read as "
                        f"{layout.format} data", f"use {wanted} data, or training.objective=sft for {layout.format} rows")


def read_label(value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE or text in FALSE:
        return text in TRUE
    raise DataError(f"{where}: 'label' is {value!r}; a KTO label is true (desirable) or false (undesirable)")


def read_unpaired(row: dict, where: str) -> tuple[object, object, bool]:
    """(prompt, completion, desirable) of a KTO row."""
    if "label" not in row:
        raise DataError(f"{where}: no 'label' (true for a desirable reply, false for an undesirable one)")
    label = read_label(row["label"], where)
    if row.get("completion") is not None:
        prompt, completion = row.get("prompt"), row["completion"]
    else:
        turns = row.get("messages", row.get("conversations"))
        if not isinstance(turns, list) or len(turns) < 2:
            raise DataError(f"{where}: a KTO row needs 'prompt' and 'completion', or 'messages' ending with the reply")
        prompt, completion = turns[:-1], turns[-1:]
    if prompt is None or (isinstance(prompt, str) and not prompt.strip()) or prompt == []:
        raise DataError(f"{where}: the prompt is empty")
    if completion == [] or (isinstance(completion, str) and not completion.strip()):
        raise DataError(f"{where}: the completion is empty")
    return prompt, completion, label


def _split(prompt, reply, system, where: str, render, tokenizer) -> tuple[list[int], list[int], int]:
    """Token ids of prompt + reply rendered whole, and where the reply starts and ends."""
    text, spans, _ = render({"prompt": prompt, "completion": reply, "system": system}, where)
    ids, labels = encode(text, spans, tokenizer)
    if all(label == IGNORE_INDEX for label in labels):
        raise DataError(f"{where}: no token of a reply survives tokenization")
    return (ids, *_completion(ids, labels))


def encode_unpaired(row: dict, where: str, render, tokenizer) -> tuple[list[int], list[int], bool]:
    prompt, completion, label = read_unpaired(row, where)
    ids, start, end = _split(prompt, completion, row.get("system"), where, render, tokenizer)
    return ids[:start], ids[start:end], label
