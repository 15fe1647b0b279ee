"""Push an export to the Hugging Face Hub. The token comes from HF_TOKEN or ``hf auth login`` and is
passed to the client only: never written to a preset, a log, an event or the export."""
from __future__ import annotations

import re
from pathlib import Path

from fttui.errors import ConfigError, NetworkError

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


def check_repo_id(repo_id: str) -> None:
    if not REPO_ID.match(repo_id) or ".." in repo_id or repo_id.endswith((".git", "-", ".")):
        raise ConfigError(f"--push-to-hub {repo_id!r} is not a repository id", "use ORG/NAME, e.g. my-org/minilm-sentiment")


def hub_token() -> str:
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise ConfigError("pushing to the Hub needs a token, and none was found",
                          "run `hf auth login`, or set HF_TOKEN in the environment (a write token)")
    return token


def push_folder(folder: Path, repo_id: str, private: bool = False) -> str:
    """Create the repo if needed and upload ``folder``; returns the repo URL. Network errors become one
    clear message that says the export itself is safe on disk."""
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    api = HfApi(token=hub_token())
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model",
                          commit_message="Upload fine-tuned model from fttui")
    except Exception as exc:  # connection, offline mode, auth, permissions: all end the same way
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise NetworkError(f"could not push {folder} to the Hub as {repo_id}: {reason}",
                         f"the export is intact at {folder}; check the network and that the token can write "
                         f"to {repo_id.split('/')[0]}, then push again with: hf upload {repo_id} {folder}") from None
    return str(url)
