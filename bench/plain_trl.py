"""The reference: chat SFT with LoRA written the way TRL's docs show (conversational data, assistant-only loss).

Used by compare_plain_trl.py; prints one JSON line: runtime, rows and trained tokens (labels != -100 in the
dataset SFTTrainer prepared), eval loss, and the precision SFTConfig's defaults chose.
Usage: python bench/plain_trl.py MODEL_DIR TRAIN.jsonl EVAL.jsonl OUT_DIR
"""
import json
import sys

import torch
from datasets import load_dataset
from peft import LoraConfig
from trl import SFTConfig, SFTTrainer

model_dir, train_file, eval_file, out_dir = sys.argv[1:5]
dataset = load_dataset("json", data_files={"train": train_file, "eval": eval_file})

# use_cpu: without it, SFTConfig's default bf16=True stops on a machine with no GPU ("You need to assign use_cpu")
args = SFTConfig(output_dir=out_dir, assistant_only_loss=True, max_length=512, per_device_train_batch_size=8,
                 learning_rate=2e-4, num_train_epochs=1, report_to="none", use_cpu=not torch.cuda.is_available())
trainer = SFTTrainer(model=model_dir, args=args, train_dataset=dataset["train"], eval_dataset=dataset["eval"],
                     peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                                            task_type="CAUSAL_LM"))
result = trainer.train()
metrics = trainer.evaluate()

labels = trainer.train_dataset["labels"]
precision = "bf16 autocast" if args.bf16 else "fp16 autocast" if args.fp16 else "fp32"
print(json.dumps({
    "train_runtime_s": result.metrics["train_runtime"],
    "train_rows": len(trainer.train_dataset),
    "trained_tokens": sum(sum(1 for label in row if label != -100) for row in labels),
    "eval_loss": metrics["eval_loss"],
    "global_step": trainer.state.global_step,
    "precision": f"{precision}, gradient checkpointing {'on' if args.gradient_checkpointing else 'off'} "
                 "(SFTConfig defaults)",
}))
