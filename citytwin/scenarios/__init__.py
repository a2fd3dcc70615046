"""Planners\x27 scenarios: specification, effects on model inputs, runs and their jobs."""
