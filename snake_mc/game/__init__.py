"""The game: its rules (SnakeBatch, SnakeEnv), the tour, what the network sees, datasets, the scripted player."""
