"""Models: where ``model.name`` points (built-in, SmolLM2, a folder, a hub id, a finished run), and loading it."""
