"""A finished run: loading what it saved, export (merged, GGUF), evaluation on other data, and Try it / chat."""
