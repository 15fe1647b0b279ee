"""Methods: what each ``method.name`` does to the model (``build.apply_method``), peft's and fttui's own."""
