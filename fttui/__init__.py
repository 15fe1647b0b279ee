"""fttui: fine-tune language models from a terminal wizard or a headless preset."""

__version__ = "0.1.0"
