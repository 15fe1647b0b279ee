"""Reusable widgets of the wizard: schema forms, modals, the loss plot, memory bars."""
