"""``fttui eval RUN_DIR --data PATH``: the same metrics as training, on held-out data of the user's."""
from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate a finished run on another dataset (base model vs fine-tuned)",
        description="Score a run's fine-tuned model, and its base model for comparison, on another dataset "
                    "in any format training accepts; a file of preference pairs (prompt, chosen, rejected) is "
                    "scored as DPO evaluates, and one of labelled replies (prompt, completion, label) as KTO does, "
                    "against the base model. The result is also saved to RUN_DIR/evals/.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (runs/<name>-<time>)")
    parser.add_argument("--data", required=True, metavar="PATH", help="a local file (jsonl/json/csv/tsv/parquet/txt) or hub id")
    parser.add_argument("--no-baseline", action="store_true", help="skip the base model (faster)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


PAIRS_LEGEND = ("rewards/accuracies: share of pairs where the model's log-prob margin over its reference (the base "
                "model) is higher for the chosen reply; rewards/margins: its mean (x beta); both 0 for the base by "
                "definition. prefers_chosen: the model alone finds the chosen reply likelier per token; "
                "chosen_loss: token loss of the chosen replies (drift); loss: the DPO loss.")
UNPAIRED_LEGEND = ("rewards/chosen, rewards/rejected: mean log-prob gain (x beta) over the reference (the base model) "
                   "of the desirable and of the undesirable replies; rewards/margins: their difference; all 0 for the "
                   "base by definition. kl: KTO's estimate of the drift from the reference; loss: the KTO loss.")
LEGENDS = {"preference": ("pairs", PAIRS_LEGEND), "unpaired": ("labelled replies", UNPAIRED_LEGEND)}


def _render(result: dict) -> None:
    from rich.table import Table

    from fttui.runner.console import make_console

    console = make_console()  # the result is the command's output: stdout, so `> result.txt` keeps it
    before = result.get("baseline", {}).get("metrics", {})
    after = result["tuned"]["metrics"]
    noun, legend = LEGENDS.get(result.get("format"), ("rows", None))
    table = Table(title=f"{result['run_dir']} on {result['data']} ({result['rows']} {noun})")
    table.add_column("metric")
    if before:
        table.add_column("base model", justify="right")
    table.add_column("fine-tuned", justify="right")
    for key, value in after.items():
        cells = [f"{before[key]:.4f}" if isinstance(before.get(key), (int, float)) else "-"] if before else []
        table.add_row(key, *cells, f"{value:.4f}")
    console.print(table)
    if legend:
        console.print(legend, style="dim")
    if result.get("bad_rows"):
        print(f"skipped {result['bad_rows']} unreadable rows of {result['data']} (the run's data.max_bad_rows allows "
              "them); fix them to score every row", file=sys.stderr)
    matrix = result["tuned"]["details"].get("confusion_matrix")
    if matrix:
        labels = result["tuned"]["details"]["labels"]
        grid = Table(title="confusion matrix (rows: true label, columns: predicted)")
        grid.add_column("")
        for label in labels:
            grid.add_column(str(label), justify="right")
        for label, row in zip(labels, matrix):
            grid.add_row(str(label), *(str(n) for n in row))
        console.print(grid)
    for sample in result["tuned"]["details"].get("samples", []):
        console.print(f"[bold]prompt[/]: {sample['prompt'][-200:]}\n[bold]output[/]: {sample['output']}\n")
    if "saved_to" in result:
        print(f"saved to {result['saved_to']}", file=sys.stderr)


def run(args) -> int:
    from fttui.runner.run_folder import RunFolder

    from fttui.events import Scored
    from fttui.runner.jobs import run_to_end, start_eval

    run_dir = RunFolder.existing(args.run_dir).path
    # in a worker, refused before it starts while another trains there; a crash in it reads like a failed run's
    result = run_to_end(start_eval(run_dir, args.data, baseline=not args.no_baseline), Scored, "evaluation").result
    if args.json:
        print(json.dumps(result))
    else:
        _render(result)
    return 0
