"""Narration: sentences to the console and the log, events, timers, progress with the time left."""
