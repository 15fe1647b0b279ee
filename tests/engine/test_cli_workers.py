"""``fttui export`` and ``fttui eval`` run in a worker, as the TUI's export does: the same files and figures as the
engine's own functions, the worker's stages on stderr, and a crash in the worker reported like a failed run's
(``error:``/``hint:``, its exit code), never as a traceback."""
from __future__ import annotations

import json
import shutil

import pytest

from fttui.cli import main
from fttui.errors import DataError, ExitCode, FttuiError, TrainingError
from fttui.events import Exported, Failed, Logged
from fttui.runner.jobs import run_to_end


def _files(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("flags", [[], ["--merge", "--dtype", "float16"]], ids=["adapter", "merged"])
def test_the_cli_export_writes_what_export_run_writes_and_prints_its_result(lora_run, tmp_path, capsys, flags):
    from fttui.engine.trained.export import export_run

    run_dir, _ = lora_run
    merge = bool(flags)
    before = export_run(run_dir, tmp_path / "in-process", merge=merge, dtype="float16" if merge else "float32")
    capsys.readouterr()
    assert main(["export", str(run_dir), "--out", str(tmp_path / "cli"), "--json", *flags]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {**before, "out": str(tmp_path / "cli")}  # the same JSON as in-process
    assert _files(tmp_path / "cli") == _files(tmp_path / "in-process")  # byte for byte, the manifest too
    stages = captured.err.strip().splitlines()  # the worker's progress, on stderr
    assert stages == (["loading the base model in float16 with the adapter on it",
                       "merging the adapter into the base weights", "saving the model as safetensors"] if merge
                      else ["copying the adapter"])


@pytest.mark.slow  # in CI's slow run: keeps the fast suite near 15 minutes on 2 cores
def test_a_crash_in_the_export_worker_is_reported_like_a_failed_run(lora_run, tmp_path, capsys):
    """An adapter whose config names a module the model lacks: peft raises deep inside the worker."""
    run_dir = tmp_path / "run"
    shutil.copytree(lora_run[0], run_dir)
    config = run_dir / "adapter" / "adapter_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "target_modules": ["no_such_module"]}))
    capsys.readouterr()
    code = main(["export", str(run_dir), "--out", str(tmp_path / "out"), "--merge"])
    err = capsys.readouterr().err
    assert code == ExitCode.TRAINING, err
    assert "Traceback" not in err and err.count("error: ") == 1 and "No modules were targeted" in err, err
    assert f"hint: see {run_dir / 'export.log'}" in err and not (tmp_path / "out").exists()
    assert "Traceback" in (run_dir / "export.log").read_text()  # the worker's traceback is in its log, for a report
    code = main(["export", str(run_dir), "--out", str(tmp_path / "out"), "--merge", "--json"])
    failed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # --json: one failed event on stdout
    assert code == ExitCode.TRAINING and failed["event"] == "failed" and failed["exit_code"] == 4


def test_ctrl_c_stops_the_export_worker_and_leaves_no_export(lora_run, tmp_path):
    import signal
    import subprocess
    import sys

    from fttui.runner.lock import claim

    run_dir, out = lora_run[0], tmp_path / "merged"
    cli = subprocess.Popen([sys.executable, "-m", "fttui", "export", str(run_dir), "--out", str(out), "--merge"],
                           stderr=subprocess.PIPE, text=True)
    first = cli.stderr.readline()  # the worker's first stage: it is at work
    assert first.startswith("loading the base model"), first
    cli.send_signal(signal.SIGINT)
    err = first + cli.stderr.read()
    assert cli.wait(timeout=60) == ExitCode.INTERRUPTED, err
    assert "error: SIGINT: the export was stopped before it finished" in err and "Traceback" not in err
    assert not out.exists()
    claim(run_dir, "export").release()  # the worker is gone: its claim on the run went with it


def test_eval_through_its_worker_gives_the_same_figures(lora_run, capsys):
    from fttui.engine.trained.evaluate import evaluate_run

    run_dir, data = lora_run
    before = evaluate_run(run_dir, data, save=False)
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--data", data, "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    for model in ("baseline", "tuned"):
        assert after[model] == before[model]
    assert (after["rows"], after["format"], after["task"]) == (before["rows"], before["format"], before["task"])
    assert json.loads(open(after["saved_to"]).read())["tuned"] == before["tuned"]  # saved by the worker, as before


class _Worker:
    """Stands in for a WorkerSupervisor: replays events, then ends with ``code``."""

    log_path = "runs/x/export.log"

    def __init__(self, events, code=0):
        self.queue, self.code, self.killed = list(events) + [None], code, False

    def next_event(self, timeout=0.2):
        return self.queue.pop(0)

    running = property(lambda self: False)

    def wait(self):
        return self.code

    def kill(self):
        self.killed = True


def test_run_to_end_hears_the_stages_and_raises_what_the_worker_reported():
    heard = []
    done = Exported(out="o", kind="adapter")
    assert run_to_end(_Worker([Logged("copying"), False, done]), Exported, "export", heard.append) is done
    assert heard == ["copying"]
    with pytest.raises(DataError) as caught:  # the worker's kind and exit code, its message and hint
        run_to_end(_Worker([Failed(kind="DataError", message="bad.jsonl line 3", hint="fix it", exit_code=3)], 3),
                   Exported, "export")
    assert (caught.value.message, caught.value.hint, caught.value.exit_code) == ("bad.jsonl line 3", "fix it", 3)
    with pytest.raises(FttuiError) as caught:  # an unexpected exception's class name: a plain error, same code
        run_to_end(_Worker([Failed(kind="OutOfMemoryError", message="out of memory", exit_code=4)], 4),
                   Exported, "export")
    assert caught.value.exit_code == ExitCode.TRAINING and caught.value.message == "out of memory"
    assert caught.value.hint == "see runs/x/export.log"  # no hint of its own: where its traceback is
    with pytest.raises(TrainingError, match=r"export worker ended without a result \(exit code -9\)") as caught:
        run_to_end(_Worker([Logged("merging")], -9), Exported, "export")  # killed: no event at all
    assert caught.value.hint == "see runs/x/export.log"
