"""Rank the fine-tuning methods for one model on one machine: what fits, at which batch size, and why.

Order by expected quality, best first (our judgement, from the literature):
full > LoRA > DoRA > QLoRA 8-bit > QLoRA 4-bit > bottleneck adapters > freeze (top layers) > IA3 > prefix >
P-tuning > prompt > BitFit.
LoRA on the attention and MLP layers approaches full fine-tuning; DoRA can edge it out at equal rank (Liu et
al. 2024) but needs more memory and time for a small gain, so LoRA stays the default; QLoRA matches 16-bit
LoRA on benchmarks (Dettmers et al. 2023) but quantization costs a little, 4-bit more than 8-bit; bottleneck
adapters come within a point of full fine-tuning on GLUE (Houlsby et al. 2019) but cannot be merged and slow
inference; training only the top layers adapts less than LoRA on every layer; IA3, prefix, P-tuning and prompt
tuning learn far fewer parameters and trail on generation tasks (P-tuning's prompt encoder steadies plain prompt
tuning, Liu et al. 2021); BitFit trains only biases. Methods that fit with 10% headroom come first
(with several GPUs, fitting through FSDP sharding counts), then tight fits, then the rest.

CPU time per step is a rough estimate: FLOPs per token = 2 x matmul params forward (+ attention 4 x s x d per
layer); backward doubles that when weights train (6N per token for full fine-tuning) and equals the forward
when only adapters or inputs need gradients (~4N); gradient checkpointing adds one forward; preference
objectives train each pair's two sequences and add forwards without gradients (planning/objectives.py). The assumed
throughput is per physical core: 40 GFLOP/s with AVX-512, 25 with AVX2, 10 otherwise (a 2-core AVX-512 EPYC
measured 20-110 GFLOP/s on MiniLM depending on load), x1.5 for bf16 with AVX512-BF16, x3 with AMX, x0.5 for
4/8-bit weights (dequantized on every matmul).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from fttui.config.methods import PLAN_ROWS, ROW_METHOD
from fttui.planning.formulas import FORMULAS
from fttui.planning.memory import GB, METHODS, MemoryEstimate, Settings, estimate
from fttui.planning.objectives import OBJECTIVES, describe
from fttui.planning.shape import ModelShape
from fttui.planning.task import resolve_task

LABELS = {row.key: row.label for row in PLAN_ROWS}  # the rows, their labels and order: config/methods.py
NO_CHECKPOINTING = tuple(key for key, spec in ROW_METHOD.items() if not spec.gradient_checkpointing)
HEADROOM = 0.9  # leave 10% for fragmentation spikes and other processes
UNSHARDABLE = tuple(key for key, spec in ROW_METHOD.items() if spec.unshardable)  # refused by the schema
BATCHES_GPU = (64, 32, 16, 8, 4, 2, 1)
BATCHES_CPU = (16, 8, 4, 2, 1)  # beyond 16 a CPU step takes minutes
CPU_PRACTICAL_SECONDS = 60.0
# Below this many training rows, LoRA-family methods learn as much as full fine-tuning and overfit less, and
# they save an adapter of a few MB instead of a whole model (LoRA, Hu et al. 2021; "LoRA Learns Less and Forgets
# Less", Biderman et al. 2024: full fine-tuning pulls ahead only with far more data). Our judgement, not a law.
SMALL_DATA_ROWS = 10_000
WHOLE_MODEL = tuple(k for k, f in FORMULAS.items() if f.base in ("trains", "top"))  # base weights train: passed
# over by the small-data rule when a LoRA-family method also fits (full, freeze)


@dataclass
class Budget:
    """Memory per device and how many devices; ``device`` is cuda or cpu (RAM is the budget)."""

    device: str
    memory_gb: float
    count: int = 1
    source: str = "detected"
    cpu_gflops: float = 0.0  # assumed CPU throughput, for the time-per-step estimate


@dataclass
class MethodPlan:
    method: str
    label: str
    fits: bool
    headroom: bool
    batch_size: int
    gradient_checkpointing: bool
    estimated_gb: float
    trainable_params: int
    breakdown: dict
    reason: str
    multi_gpu: str | None = None
    seconds_per_step: float | None = None
    time_source: str | None = None  # "measured" (a previous run on this machine) or "estimate"
    applicable: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass
class Recommendation:
    recommended: str | None
    methods: list[MethodPlan]
    budget: Budget
    notes: list[str]

    def to_dict(self) -> dict:
        return {"recommended": self.recommended, "budget": asdict(self.budget), "notes": self.notes,
                "methods": [asdict(m) for m in self.methods]}


def budget_from_hardware(report, gpu_memory_gb: float | None = None, gpus: int | None = None) -> Budget:
    """The smallest GPU's total memory (or the override); on a GPU-less machine the available RAM."""
    detected = len(report.gpus) if report is not None else 0
    if gpu_memory_gb is not None:
        return Budget("cuda", float(gpu_memory_gb), gpus or max(detected, 1), "--gpu-memory")
    if report is not None and report.gpus:
        return Budget("cuda", min(g.memory_total_gb for g in report.gpus), gpus or len(report.gpus))
    cpu = report.cpu if report is not None else None
    return Budget("cpu", report.ram_available_gb if report else 0.0, 1, "RAM available",
                  cpu_gflops=cpu_throughput(cpu))


def cpu_throughput(cpu) -> float:
    """Assumed fp32 training GFLOP/s of the whole CPU (see the module docstring)."""
    if cpu is None:
        return 20.0
    per_core = 40.0 if "avx512f" in cpu.features else 25.0 if "avx2" in cpu.features else 10.0
    return per_core * (cpu.physical_cores or cpu.logical_cores or 1)


def step_seconds(shape: ModelShape, settings: Settings, gflops: float, cpu=None) -> float:
    """Rough seconds per optimizer step on a CPU delivering ``gflops`` (fp32)."""
    objective = OBJECTIVES[settings.objective]
    tokens = settings.batch_size * settings.seq_len * objective.sequences
    matmul = shape.total_params - shape.embedding_params - shape.lm_head_params
    if resolve_task(shape, settings.task) == "causal-lm":
        matmul += shape.vocab_size * shape.hidden_size  # the LM head, tied or not
    attention = 4 * settings.seq_len * sum(b.q_dim * b.count for b in shape.blocks)
    forward = 2 * matmul + attention
    base = FORMULAS[settings.method].base
    if base == "trains":
        per_token = 3 * forward
    elif base == "top":
        top = shape.blocks[-1]
        per_token = forward + 2 * forward * min(settings.freeze_layers, top.count) / shape.num_layers
    else:
        per_token = 2 * forward
    if settings.gradient_checkpointing:
        per_token += forward
    # forwards without gradients: the reference on each trained sequence, KTO's KL pass on the policy (and reference)
    passes = objective.sequences * objective.reference + objective.extra_passes * (1 + objective.reference)
    per_token += forward * passes / objective.sequences
    rate = gflops * 1e9
    if settings.precision == "bf16" and cpu is not None and cpu.bf16:
        rate *= 3.0 if "amx_bf16" in cpu.features else 1.5
    if base == "quantized":
        rate *= 0.5
    return per_token * tokens / max(rate, 1.0)


def rank(shape: ModelShape, budget: Budget, base: Settings, *, batch_size: int | None = None,
         gradient_checkpointing: bool | None = None, cpu=None,
         measured_seconds: dict[str, float] | None = None, train_rows: int | None = None) -> Recommendation:
    """Every method, best first; ``batch_size``/``gradient_checkpointing`` None means search for them.

    ``measured_seconds`` maps a method to measured CPU seconds per training example; it replaces the estimate.
    ``train_rows`` (when known): with little data, a LoRA-family method is recommended over whole-model ones.
    """
    plans = [_plan(shape, budget, replace(base, method=m, device=budget.device), batch_size,
                   gradient_checkpointing, cpu, (measured_seconds or {}).get(m)) for m in METHODS]
    _explain(plans, budget)

    def order(p: MethodPlan) -> tuple:
        return (not p.applicable, 0 if p.fits and p.headroom else 1 if p.fits else 2, METHODS.index(p.method))

    plans.sort(key=order)
    fitting = [p for p in plans if p.fits and p.applicable]
    pick = fitting[0] if fitting else None
    candidates = fitting
    if budget.device == "cpu":  # the best method whose step is practical, else the fastest
        candidates = [p for p in fitting if (p.seconds_per_step or 0) <= CPU_PRACTICAL_SECONDS]
        pick = candidates[0] if candidates else min(fitting, key=lambda p: p.seconds_per_step or 0, default=None)
    causal = resolve_task(shape, base.task) == "causal-lm"
    notes = [line] if causal and (line := describe(base.objective)) else []
    lighter = [p for p in candidates if p.method not in WHOLE_MODEL]
    if pick in candidates and pick.method in WHOLE_MODEL and lighter and train_rows is not None \
            and train_rows < SMALL_DATA_ROWS:
        notes.append(f"{train_rows:,} training rows: with this little data {lighter[0].label} learns as much as "
                     f"{pick.label} fine-tuning and overfits less, and it saves a small adapter instead of the "
                     f"whole model, so it is recommended although {pick.label} fits too")
        pick = lighter[0]
    recommended = pick.method if pick else None
    if budget.device == "cpu":
        notes.append("no NVIDIA GPU: planning for CPU training with available RAM as the budget; "
                     "CPU steps are slow and times are rough estimates")
    elif budget.count > 1:
        notes.append(f"{budget.count} GPUs: batch sizes are per GPU; train on all of them with "
                     f"fttui --preset ... --nproc {budget.count} (DDP; FSDP where a method says so)")
    return Recommendation(recommended, plans, budget, notes)


def _plan(shape, budget, settings, batch_size, gc, cpu, measured) -> MethodPlan:
    limit = budget.memory_gb
    batches = (batch_size,) if batch_size else BATCHES_GPU if budget.device == "cuda" else BATCHES_CPU
    options = (gc,) if gc is not None else (False, True)
    if settings.method in NO_CHECKPOINTING and gc is None:
        options = (False,)
    best = None
    shardable = budget.count > 1 and settings.method not in UNSHARDABLE
    for shard in (False, True) if shardable else (False,):  # a replica per GPU (DDP) first, FSDP if needed
        for use_gc in options:
            for b in batches:
                est = estimate(shape, replace(settings, batch_size=b, gradient_checkpointing=use_gc))
                per_device, strategy = _per_device(est, budget, shape, shard)
                if per_device <= limit * HEADROOM:
                    if best is None or b >= 4 * best[0]:  # checkpointing only when it buys a 4x larger batch
                        best = (b, use_gc, est, per_device, strategy)
                    break
        if best is not None:
            break
    if best is None:  # nothing fits with headroom: report the smallest configuration
        b, use_gc = batches[-1], options[-1]
        est = estimate(shape, replace(settings, batch_size=b, gradient_checkpointing=use_gc))
        per_device, strategy = _per_device(est, budget, shape, shardable and est.total_gb > limit)
        fits, headroom = per_device <= limit, False
    else:
        b, use_gc, est, per_device, strategy = best
        fits, headroom = True, True
    applicable = est.trainable_params > 0 and not (FORMULAS[settings.method].in_base and shape.bias_params == 0)
    notes = list(est.notes)
    if settings.objective not in ROW_METHOD[settings.method].objectives:  # config/methods.py: what each method tunes
        applicable, notes = False, [f"it does not train with training.objective={settings.objective}"]
    plan = MethodPlan(settings.method, LABELS[settings.method], fits, headroom, b, use_gc, round(per_device, 4),
                      est.trainable_params, est.breakdown, "", applicable=applicable, notes=notes)
    if budget.device == "cpu":
        chosen = replace(settings, batch_size=b, gradient_checkpointing=use_gc)
        seconds = measured * b if measured else step_seconds(shape, chosen, budget.cpu_gflops, cpu)
        plan.seconds_per_step = round(seconds, 1)
        plan.time_source = "measured" if measured else "estimate"
    elif budget.count > 1 and applicable:
        n = budget.count
        batches_text = f"batch {b} per GPU, {n * b} per step"
        if strategy == "fsdp" and fits:
            plan.multi_gpu = (f"FSDP over {n} GPUs shards weights, gradients and optimizer states: "
                              f"{per_device:.1f} GB each (one GPU would need {est.total_gb:.1f} GB); {batches_text}")
            plan.notes.append(f"needs FSDP: fttui --preset ... --nproc {n} --set training.distributed=fsdp")
        elif fits:
            plan.multi_gpu = f"DDP over {n} GPUs: {per_device:.1f} GB each (a replica plus gradient buckets); {batches_text}"
        elif not shardable:
            plan.multi_gpu = (f"DDP needs {per_device:.1f} GB on each GPU (a whole replica), and fttui cannot "
                              f"shard {LABELS[settings.method]} with FSDP")
        else:
            plan.multi_gpu = f"does not fit even with FSDP over {n} GPUs ({per_device:.1f} GB each)"
    return plan


def _per_device(est: MemoryEstimate, budget: Budget, shape: ModelShape, shard: bool) -> tuple[float, str]:
    """Memory per GPU at the per-GPU batch: all of it on one GPU; DDP adds its gradient buckets (a second copy of
    the trainable gradients, DDP's default without gradient_as_bucket_view); FSDP shards the states over N GPUs."""
    br = est.breakdown
    if budget.count <= 1:
        return est.total_gb, "single"
    if not shard:
        return est.total_gb + br["gradients"], "ddp"
    states = br["weights"] + br["gradients"] + br["optimizer"] + br.get("reference", 0.0)  # FSDP shards the copy too
    gathered = 2 * max(b.params for b in shape.blocks) * 2 / GB  # two unsharded blocks in half precision
    return est.total_gb - states * (1 - 1 / budget.count) + gathered, "fsdp"


def _explain(plans: list[MethodPlan], budget: Budget) -> None:
    """One line per method; a fitting method names the nearest better method (not a variant) that does not fit."""
    unit = "GB RAM" if budget.device == "cpu" else "GB"
    total = f"{budget.memory_gb:.0f}" if budget.memory_gb >= 10 else f"{budget.memory_gb:.1f}"
    each = " per GPU" if budget.count > 1 else ""
    missing: MethodPlan | None = None
    for p in plans:  # quality order
        gc = ", gradient checkpointing" if p.gradient_checkpointing else ""
        fsdp = " with FSDP" if p.multi_gpu and p.multi_gpu.startswith("FSDP") else ""
        if not p.applicable:
            p.reason = f"{p.label}: not applicable ({'; '.join(p.notes) or 'nothing to train'})"
        elif p.fits:
            p.reason = f"{p.label}: {p.estimated_gb:.1f} of {total} {unit}{each}{fsdp} at batch {p.batch_size}{gc}"
            if not p.headroom:
                p.reason += " (tight: under 10% headroom)"
            if missing is not None:
                p.reason += f"; {missing.label} would need {missing.estimated_gb:.1f} GB"
            if p.seconds_per_step is not None:
                how = "measured in an earlier run" if p.time_source == "measured" else "rough estimate"
                p.reason += f"; ~{_duration(p.seconds_per_step)} per step on this CPU ({how})"
        else:
            p.reason = (f"{p.label}: needs {p.estimated_gb:.1f} GB{each} at batch {p.batch_size}{gc}, "
                        f"over the {total} {unit} available")
            if p.method not in ("dora", "qlora-8bit"):  # name LoRA rather than its DoRA/8-bit variants
                missing = p


def measured_cpu_seconds(runs_dir, model: str) -> dict[str, float]:
    """Seconds per training example measured by earlier CPU runs of ``model``, newest run per method.

    Reads ``runs/*/summary.json`` written by the engine; a summary counts when it has ``model``, ``method``,
    ``device`` ("cpu"), ``batch_size`` and ``seconds_per_step``, from one process (several CPU ranks share the
    cores, so their step times say little about one). Anything else is ignored.
    """
    import json
    from pathlib import Path

    found: dict[str, tuple[float, float]] = {}
    for path in sorted(Path(runs_dir).glob("*/summary.json")) if Path(runs_dir).is_dir() else []:
        try:
            data = json.loads(path.read_text())
            if data.get("model") != model or data.get("device") != "cpu" or data.get("world_size", 1) != 1:
                continue
            per_example = float(data["seconds_per_step"]) / int(data["batch_size"])
            method, mtime = str(data["method"]), path.stat().st_mtime
        except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError, AttributeError):
            continue
        if per_example > 0 and (method not in found or mtime > found[method][0]):
            found[method] = (mtime, per_example)
    return {method: seconds for method, (_, seconds) in found.items()}


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
