"""The game's face: `import env` gives the Snake rules, kept in `snake_mc/game/rules.py`.

`SnakeBatch` is N games as arrays, stepped together and cheap to clone; `SnakeEnv` is one game as a Gymnasium
environment. An action turns the snake: 0 left, 1 straight on, 2 right. `DIRECTIONS` names the headings (0 up,
1 right, 2 down, 3 left), and `DR` and `DC` are their row and column steps.

Importing this module registers the game with Gymnasium: `gymnasium.make("SnakeMC-v0", grid_size=10)` makes a `SnakeEnv`.
"""

from snake_mc.game.rules import DC, DIRECTIONS, DR, ENV_ID, SnakeBatch, SnakeEnv, reward_preset, seed_keys

__all__ = ["DC", "DIRECTIONS", "DR", "ENV_ID", "SnakeBatch", "SnakeEnv", "reward_preset", "seed_keys"]
