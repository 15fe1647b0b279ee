"""The training engine: the only package that imports torch and the Hugging Face stack.

Front ends never import it directly; they start ``fttui.engine.worker`` in a child process.
"""
