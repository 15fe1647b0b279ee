"""Evaluation metrics: classification scores from predictions, and an overfitting watch on the curves.

Pure numpy so the numbers can be checked against hand-computed cases.
"""
from __future__ import annotations

import numpy as np


def classification_report(predictions, labels, names: list[str]) -> tuple[dict[str, float], dict]:
    """Scalar metrics (accuracy; macro precision, recall, F1; F1 per class) and the confusion matrix."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    n = len(names)
    confusion = np.zeros((n, n), dtype=int)  # rows: true label, columns: predicted
    for truth, guess in zip(labels, predictions):
        confusion[truth, guess] += 1
    tp = np.diag(confusion).astype(float)
    predicted, actual = confusion.sum(0).astype(float), confusion.sum(1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(n), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n), where=(precision + recall) > 0)
    present = actual > 0  # classes absent from the eval set do not drag the macro averages down
    scalars = {
        "accuracy": float(tp.sum() / max(len(labels), 1)),
        "f1_macro": float(f1[present].mean()) if present.any() else 0.0,
        "precision_macro": float(precision[present].mean()) if present.any() else 0.0,
        "recall_macro": float(recall[present].mean()) if present.any() else 0.0,
    }
    for name, value in zip(names, f1):
        scalars[f"f1_{name}"] = float(value)
    return scalars, {"confusion_matrix": confusion.tolist(), "labels": list(names)}


class OverfitWatch:
    """Flags overfitting: eval loss rising ``patience`` evaluations in a row while train loss keeps falling."""

    def __init__(self, patience: int):
        self.patience = patience
        self.eval_losses: list[float] = []
        self.train_at_eval: list[float] = []
        self.recent_train: list[float] = []
        self.warned = False

    def train_loss(self, loss: float | None) -> None:
        if loss is not None:
            self.recent_train.append(loss)

    def eval_loss(self, loss: float | None) -> str | None:
        """Record one evaluation; returns a warning message the first time the pattern appears."""
        if loss is None or not self.recent_train:
            return None
        self.eval_losses.append(loss)
        self.train_at_eval.append(float(np.mean(self.recent_train)))
        self.recent_train = []
        k = self.patience
        if self.warned or len(self.eval_losses) < k + 1:
            return None
        evals, trains = self.eval_losses[-(k + 1):], self.train_at_eval[-(k + 1):]
        rising = all(b > a for a, b in zip(evals, evals[1:]))
        falling = trains[-1] < trains[0]
        if rising and falling:
            self.warned = True
            return (f"overfitting: eval loss rose {k} evaluations in a row ({evals[0]:.4f} -> {evals[-1]:.4f}) "
                    f"while train loss fell ({trains[0]:.4f} -> {trains[-1]:.4f}); consider fewer epochs, "
                    "more data, or training.early_stopping_patience")
        return None
