"""Numbers a run cannot use (inf, NaN, a seed numpy refuses, 1e308 epochs) are usage errors that give the range."""
from __future__ import annotations

import json

import pytest

from fttui.cli import main
from fttui.config import load_config
from fttui.errors import ConfigError


@pytest.mark.parametrize("override, expected", [
    ("training.epochs=.inf", "training.epochs: must be a finite number, greater than 0 and at most 1000"),
    ("training.epochs=1e308", "training.epochs: must be greater than 0 and at most 1000"),
    ("training.learning_rate=nan", "training.learning_rate: must be a finite number, greater than 0 and less than 1"),
    ("training.seed=-1", "training.seed: must be at least 0 and at most 4294967295"),
    ("training.seed=4294967296", "training.seed: must be at least 0 and at most 4294967295"),
    ("training.max_grad_norm=.inf", "training.max_grad_norm: must be a finite number, greater than 0"),
    ("training.weight_decay=.nan", "training.weight_decay: must be a finite number, at least 0 and at most 10"),
    ("training.max_steps=100000000000000000000", "training.max_steps: must be greater than 0 and at most 1000000000"),
    ("training.batch_size=0", "training.batch_size: must be greater than 0 and at most 65536"),
    ("method.layer_lr_decay=.inf", "method.layer_lr_decay: must be a finite number, greater than 0 and at most 1"),
])
def test_a_number_out_of_range_is_refused_with_the_range(override, expected):
    with pytest.raises(ConfigError) as info:
        load_config(None, ["data.train=t.jsonl", override])
    assert expected in info.value.message


@pytest.mark.parametrize("override", ["training.epochs=1000", "training.epochs=0.25", "training.seed=0",
                                      "training.seed=4294967295", "training.weight_decay=0.1"])
def test_the_edges_of_each_range_are_accepted(override):
    load_config(None, ["data.train=t.jsonl", override])


@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "-5"])
def test_recommend_refuses_a_gpu_memory_that_is_not_a_real_size(capsys, value):
    assert main(["recommend", f"--gpu-memory={value}", "--json"]) == 2
    captured = capsys.readouterr()
    (line,) = captured.out.splitlines()  # --json: one failed event, no NaN-laden plan for a script to swallow
    assert json.loads(line)["event"] == "failed" and "NaN" not in captured.out and "Infinity" not in captured.out
    assert "--gpu-memory must be greater than 0 and at most 4,096 GB" in captured.err
    assert "Traceback" not in captured.err


def test_recommend_still_plans_for_a_real_gpu_memory(capsys):
    assert main(["recommend", "--gpu-memory", "24", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["budget"]["memory_gb"] == 24
