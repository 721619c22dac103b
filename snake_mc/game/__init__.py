"""The game: its rules (SnakeBatch, SnakeEnv), what the network sees, datasets, the scripted player."""
