"""The Textual wizard (``fttui`` with no arguments): the only package that imports textual; never torch."""
