"""Re-run the faults of issue 14 against the real CLI and print how each one ends.

    python bench/probe_reliability.py

Each probe injects one fault for real (a foreign Origin, two writers, a signal, an alias bomb, a BOM, a
truncated file, a read-only folder...) in a temporary folder, runs ``fttui`` as a user would, and prints
the exit code, the time and the first line of what it said. "ok" means the documented outcome: a clear
error (no traceback), nothing lost, the right exit code.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = [{"text": t, "label": lab} for t, lab in [("good fun", "pos"), ("bad day", "neg"), ("great film", "pos"),
                                                   ("awful plot", "neg")]] * 4
TINY = {"model": {"name": "builtin", "task": "seq-cls"}, "data": {"train": "train.jsonl", "eval": None},
        "training": {"max_steps": 2, "batch_size": 4, "max_length": 16, "save_steps": 1, "baseline_eval": False}}


def fttui(*args, cwd, timeout=300, env=None):
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "fttui", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, env=dict(os.environ, HF_HUB_OFFLINE="1", NO_COLOR="1", **(env or {})))
    return result, time.monotonic() - start


def said(result) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("error:", "note:"))]
    return (errors or lines or [""])[0][:110]


def write_preset(folder: Path, preset: dict | str, name: str = "p.yaml") -> Path:
    import yaml

    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    path = folder / name
    path.write_text(preset if isinstance(preset, str) else yaml.safe_dump(preset))
    return path


def probe_yaml_bomb(tmp):
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join('*' + p for _ in range(9))}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    result, seconds = fttui("--preset", str(write_preset(tmp, bomb)), "--dry-run", cwd=tmp)
    return result.returncode == 2 and seconds < 10 and len(result.stderr) < 2000, result, seconds


def probe_duplicate_section(tmp):
    text = "data: {train: train.jsonl}\ntraining: {max_steps: 2}\nmodel: {name: builtin}\ntraining: {epochs: 1}\n"
    result, seconds = fttui("--preset", str(write_preset(tmp, text)), "--dry-run", cwd=tmp)
    return result.returncode == 2 and "line 2" in result.stderr and "line 4" in result.stderr, result, seconds


def probe_bom_csv(tmp):
    (tmp / "t.csv").write_bytes("\ufefftext,label\n".encode() + b"".join(
        f"{r['text']},{r['label']}\n".encode() for r in ROWS))
    result, seconds = fttui("--preset", str(write_preset(tmp, {**TINY, "data": {"train": "t.csv", "eval": None}})),
                            "--dry-run", cwd=tmp)
    return result.returncode == 0, result, seconds


def probe_mixed_labels(tmp):
    rows = [{"text": "a", "label": 0}, {"text": "b", "label": "1"}, {"text": "c", "label": "negative"}] * 3
    (tmp / "mixed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    preset = write_preset(tmp, {**TINY, "data": {"train": "mixed.jsonl", "eval": None}})
    result, seconds = fttui("--preset", str(preset), "--dry-run", cwd=tmp)
    return result.returncode == 3 and "mix" in result.stderr, result, seconds


def probe_recommend_nan(tmp):
    result, seconds = fttui("recommend", "--model", "builtin", "--gpu-memory", "nan", "--json", cwd=tmp)
    return result.returncode == 2 and "NaN" not in result.stdout, result, seconds


def probe_epochs_inf(tmp):
    result, seconds = fttui("--preset", str(write_preset(tmp, TINY)), "--set", "training.epochs=inf",
                            "--set", "training.max_steps=null", cwd=tmp)
    return result.returncode == 2 and not (tmp / "runs").exists(), result, seconds


def probe_two_writers(tmp):
    preset = write_preset(tmp, TINY)
    command = [sys.executable, "-m", "fttui", "--preset", str(preset), "--output-dir", str(tmp / "out")]
    start = time.monotonic()
    both = [subprocess.Popen(command, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    ended = [(p.wait(300), p.stderr.read()) for p in both]

    class Result:
        returncode = sorted(code for code, _ in ended)
        stderr = next((err for code, err in ended if code), "")
        stdout = ""
    return Result.returncode == [0, 2], Result, time.monotonic() - start


def probe_sigterm(tmp):
    preset = write_preset(tmp, {**TINY, "training": {**TINY["training"], "max_steps": 5000, "logging_steps": 1,
                                                     "save_steps": 1000}})
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "fttui", "--preset", str(preset), "--output-dir", str(tmp / "r"),
                             "--json"], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if json.loads(line).get("event") == "step":
            break
    proc.send_signal(signal.SIGTERM)
    events = [json.loads(line) for line in proc.stdout]
    code = proc.wait(120)

    class Result:
        returncode = code
        stderr = proc.stderr.read()
        stdout = ""
    stopped = any(e.get("event") == "finished" and e.get("status") == "stopped" for e in events)
    return code == 143 and stopped and "Traceback" not in Result.stderr, Result, time.monotonic() - start


def probe_resume_completed(tmp):
    first, _ = fttui("--preset", str(write_preset(tmp, TINY)), "--output-dir", str(tmp / "done"), cwd=tmp)
    before = sorted(p.name for p in (tmp / "done" / "checkpoints").iterdir())
    result, seconds = fttui("--resume", str(tmp / "done"), cwd=tmp)
    after = sorted(p.name for p in (tmp / "done" / "checkpoints").iterdir())
    return first.returncode == 0 and result.returncode == 0 and before == after, result, seconds


def probe_truncated_checkpoint(tmp):
    preset = write_preset(tmp, {**TINY, "training": {**TINY["training"], "max_steps": 4, "save_steps": 2}})
    fttui("--preset", str(preset), "--output-dir", str(tmp / "run"), cwd=tmp)
    (tmp / "run" / "summary.json").unlink()
    state = tmp / "run" / "checkpoints" / "checkpoint-4" / "trainer_state.json"
    state.write_text(state.read_text()[:200])
    result, seconds = fttui("--resume", str(tmp / "run"), "--set", "training.max_steps=6", cwd=tmp)
    return result.returncode == 0 and "checkpoint-4 is damaged" in result.stderr, result, seconds


def probe_export_keeps_user_files(tmp):
    fttui("--preset", str(write_preset(tmp, TINY)), "--output-dir", str(tmp / "run"), cwd=tmp)
    fttui("export", str(tmp / "run"), "--out", str(tmp / "exp"), cwd=tmp)
    (tmp / "exp" / "NOTES.md").write_text("mine")
    result, seconds = fttui("export", str(tmp / "run"), "--out", str(tmp / "exp"), cwd=tmp)
    return result.returncode == 2 and (tmp / "exp" / "NOTES.md").is_file(), result, seconds


def probe_corrupt_adapter(tmp):
    fttui("--preset", str(write_preset(tmp, TINY)), "--output-dir", str(tmp / "run"), cwd=tmp)
    weights = tmp / "run" / "adapter" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result, seconds = fttui("export", str(tmp / "run"), "--out", str(tmp / "exp"), "--merge", cwd=tmp)
    return result.returncode == 4 and "damaged" in result.stderr and not (tmp / "exp").exists(), result, seconds


def probe_web_foreign_origin(tmp):
    import asyncio

    from aiohttp import ClientSession, WSServerHandshakeError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.monotonic()
    server = subprocess.Popen([sys.executable, "-m", "fttui", "--web", "--port", str(port), "--token", "probe-token"],
                              cwd=tmp, stderr=subprocess.PIPE, text=True)
    server.stderr.readline()

    async def attempt():
        async with ClientSession() as session:
            try:
                await session.ws_connect(f"http://127.0.0.1:{port}/ws/probe-token",
                                         headers={"Origin": "https://attacker.example"})
            except WSServerHandshakeError as refused:
                return refused.status
        return 101

    status = asyncio.run(attempt())
    server.terminate()
    server.wait(20)

    class Result:
        returncode = status
        stderr = f"WebSocket from https://attacker.example answered {status}"
        stdout = ""
    return status == 403, Result, time.monotonic() - start


def probe_readonly_output(tmp):
    if os.geteuid() != 0:
        return None, None, 0.0
    ro = tmp / "ro"
    ro.mkdir()
    subprocess.run(["mount", "--bind", str(ro), str(ro)], check=False)
    mounted = subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=False).returncode == 0
    try:
        result, seconds = fttui("--preset", str(write_preset(tmp, TINY)), "--output-dir", str(ro / "run"), cwd=tmp)
    finally:
        subprocess.run(["umount", str(ro)], check=False)
    return (result.returncode == 2 and "Traceback" not in result.stderr) if mounted else None, result, seconds


PROBES = [probe_web_foreign_origin, probe_two_writers, probe_sigterm, probe_yaml_bomb, probe_duplicate_section,
          probe_mixed_labels, probe_bom_csv, probe_epochs_inf, probe_recommend_nan, probe_truncated_checkpoint,
          probe_resume_completed, probe_export_keeps_user_files, probe_corrupt_adapter, probe_readonly_output]


def main() -> int:
    failed = 0
    print(f"{'probe':32} {'result':6} {'exit':>5} {'time':>7}  what it said")
    for probe in PROBES:
        with tempfile.TemporaryDirectory() as folder:
            ok, result, seconds = probe(Path(folder))
        name = probe.__name__.removeprefix("probe_")
        if ok is None:
            print(f"{name:32} {'skip':6}")
            continue
        failed += not ok
        print(f"{name:32} {'ok' if ok else 'FAIL':6} {str(result.returncode):>5} {seconds:6.1f}s  {said(result)}")
    print(f"{len(PROBES) - failed} of {len(PROBES)} probes end as documented")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
