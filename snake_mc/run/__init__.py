"""The run: its configuration, the pure decisions, the history and the run state (the one writer)."""
