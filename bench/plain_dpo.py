"""The reference: DPO with LoRA written the way TRL 1.16's DPOTrainer docs show (conversational pairs).

Used by compare_plain_dpo.py; prints one JSON line: runtime, rows, steps, and the eval metrics TRL reports
after the epoch (``rewards/accuracies``: share of pairs whose chosen reply gains more log-prob over the
reference, the base with the adapter off, than the rejected one; and the DPO loss).
Usage: python bench/plain_dpo.py MODEL_DIR TRAIN.jsonl EVAL.jsonl OUT_DIR BETA LR BATCH MAX_LENGTH
"""
import json
import sys

import torch
from datasets import load_dataset
from peft import LoraConfig
from trl import DPOConfig, DPOTrainer

model_dir, train_file, eval_file, out_dir = sys.argv[1:5]
beta, lr, batch, max_length = float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
dataset = load_dataset("json", data_files={"train": train_file, "eval": eval_file})

# use_cpu: without it, the default bf16=True stops on a machine with no GPU ("You need to assign use_cpu")
args = DPOConfig(output_dir=out_dir, beta=beta, learning_rate=lr, per_device_train_batch_size=batch,
                 max_length=max_length, num_train_epochs=1, report_to="none",
                 use_cpu=not torch.cuda.is_available())
trainer = DPOTrainer(model=model_dir, args=args, train_dataset=dataset["train"], eval_dataset=dataset["eval"],
                     peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                                            task_type="CAUSAL_LM"))
result = trainer.train()
metrics = trainer.evaluate()

precision = "bf16 autocast" if args.bf16 else "fp16 autocast" if args.fp16 else "fp32"
print(json.dumps({
    "train_runtime_s": result.metrics["train_runtime"],
    "train_rows": len(trainer.train_dataset),
    "global_step": trainer.state.global_step,
    "eval_accuracy": metrics["eval_rewards/accuracies"],
    "eval_margin": metrics.get("eval_rewards/margins"),
    "eval_loss": metrics["eval_loss"],
    "precision": f"{precision}, gradient checkpointing {'on' if args.gradient_checkpointing else 'off'} "
                 "(DPOConfig defaults)",
}))
