"""Presets shipped with fttui (installed as the package ``fttui.presets``)."""
