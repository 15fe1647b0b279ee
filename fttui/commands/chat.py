"""``fttui chat RUN_DIR|EXPORT_DIR [--base | --compare]``: talk to the tuned model in the terminal.

Replies stream token by token, greedy, inside the chat template the run trained with: the same generation code
as the wizard's Try it (``fttui.engine.trained.inference.TryModels``). Not on a terminal, each line of stdin is one
message and each reply one line of stdout (``base: ``/``tuned: `` prefixes with --compare), so scripts and
tests drive it.
"""
from __future__ import annotations

import sys
from pathlib import Path

RESET, EXIT = "/reset", "/exit"


def register(subparsers) -> None:
    parser = subparsers.add_parser("chat", help="chat with a run's tuned model (or its base) in the terminal",
                                   description="Chat with a finished run's fine-tuned model, or an fttui export of "
                                   f"it. {RESET} forgets the conversation, {EXIT} or Ctrl-D ends. Without a terminal, "
                                   "each stdin line is a message and each reply one stdout line.")
    parser.add_argument("path", metavar="RUN_DIR", help="a run folder, or a folder written by fttui export")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--base", action="store_true", help="talk to the base model, before fine-tuning")
    which.add_argument("--compare", action="store_true", help="the base and the tuned model answer each message")
    parser.add_argument("--max-new-tokens", type=int, default=256, metavar="N", help="longest reply (default 256)")


def run(args) -> int:
    from fttui.errors import ConfigError

    path = Path(args.path)
    if not path.is_dir():
        raise ConfigError(f"no run or export folder at {path}", "list runs with: fttui runs")
    if args.max_new_tokens < 1:
        raise ConfigError("--max-new-tokens must be at least 1")
    from fttui.engine.trained.exported import load_chat_models
    from fttui.engine.quiet import quiet_libraries

    quiet_libraries()
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    if tty:
        print(f"loading {path.name} ...", file=sys.stderr)
    models = load_chat_models(path, args.max_new_tokens, want_base=args.base or args.compare)
    speakers = ["base", "tuned"] if args.compare else ["base"] if args.base else ["tuned"]
    histories: dict[str, list[dict]] = {name: [] for name in speakers}
    if tty:
        print(f"ready: {', '.join(speakers)} model{'s' if len(speakers) > 1 else ''}; {RESET} forgets, "
              f"{EXIT} or Ctrl-D ends", file=sys.stderr)
    while True:
        try:
            line = input("you> " if tty else "")
        except EOFError:
            return 0
        text = line.strip()
        if not text:
            continue
        if text == EXIT:
            return 0
        if text == RESET:
            histories = {name: [] for name in speakers}
            continue
        for name in speakers:
            history = histories[name]
            history.append({"role": "user", "content": text})
            history.append({"role": "assistant", "content": _reply(models, name, history, speakers, tty)})


def _reply(models, name: str, history: list[dict], speakers: list[str], tty: bool) -> str:
    """Stream one model's reply to stdout and return it."""
    import contextlib

    prompt = models.conversation_prompt(history)
    label = f"{name}: " if len(speakers) > 1 else ("model> " if tty else "")
    print(label, end="", flush=True)
    base_off = contextlib.nullcontext()
    model = models.tuned
    if name == "base":
        model = models.base if models.base is not None else models.tuned
        if models.base is None:
            base_off = models.tuned.disable_adapter()  # an adapter run: the base is the tuned one without it
    pieces = []
    with base_off:
        for piece in models.stream(model, prompt):
            pieces.append(piece)
            print(piece.replace("\n", " ") if not tty else piece, end="", flush=True)
    print(flush=True)
    return "".join(pieces).strip()
