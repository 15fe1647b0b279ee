"""Training: the recipe (``recipe.run``), the Trainer it builds, and what watches a run (callbacks, OOM, fit)."""
