"""The run: its configuration, the pure decisions, evaluation, the history and the run state (the one writer)."""
