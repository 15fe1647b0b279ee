"""Starts and watches training workers, owns run folders, renders progress. No torch, no textual."""
