"""Subcommands of ``fttui``: each module has ``register(subparsers)`` and ``run(args) -> int``.

Modules here import only light things at module level so ``fttui --help`` stays fast.
"""

COMMAND_MODULES = ("hardware", "recommend", "runs", "export", "chat", "eval")
