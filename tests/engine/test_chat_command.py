"""``fttui chat``: scripted through stdin, it answers with the same tokens as the Try it generation."""
from __future__ import annotations

import io

from fttui.cli import main


def _chat(monkeypatch, capsys, *args, lines="hello 1\n"):
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code = main(["chat", *args, "--max-new-tokens", "12"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out.splitlines()


def test_chat_answers_a_scripted_prompt_as_generate_does(bpe_chat_run, monkeypatch, capsys):
    from fttui.engine.trained.inference import TryModels
    from fttui.engine.training.samples import generate_reply

    models = TryModels.load(bpe_chat_run, max_new_tokens=12)
    prompt = models.prompt_for("hello 1")
    assert prompt.startswith("<|im_start|>user\nhello 1<|im_end|>\n")  # inside the trained chat template
    expected = generate_reply(models.tuned, models.tokenizer, prompt, 12)
    with models.tuned.disable_adapter():
        expected_base = generate_reply(models.tuned, models.tokenizer, prompt, 12)

    assert _chat(monkeypatch, capsys, str(bpe_chat_run)) == [expected.replace("\n", " ")]
    assert _chat(monkeypatch, capsys, str(bpe_chat_run), "--compare") == \
        [f"base: {expected_base}".replace("\n", " "), f"tuned: {expected}".replace("\n", " ")]
    # the streamed pieces are the generated text, and Try it answers the same
    assert "".join(models.stream(models.tuned, prompt)) == expected == models.answer("hello 1").tuned


def test_chat_keeps_the_conversation_and_talks_to_an_export(bpe_chat_run, tmp_path, monkeypatch, capsys):
    from fttui.engine.trained.export import export_run

    export_run(bpe_chat_run, tmp_path / "merged", merge=True)
    replies = _chat(monkeypatch, capsys, str(tmp_path / "merged"), lines="hello 1\n\nagain\n/reset\nhello 1\n")
    assert len(replies) == 3 and replies[0] == replies[2]  # /reset forgets: the same first answer again
    assert replies == _chat(monkeypatch, capsys, str(bpe_chat_run), lines="hello 1\nagain\n/reset\nhello 1\n")


def test_chat_refusals_exit_2(tmp_path, capsys):
    assert main(["chat", str(tmp_path / "nowhere")]) == 2
    assert "no run or export folder" in capsys.readouterr().err
