"""snake-mc's library, one folder per layer; each layer imports only the layers below it.

From the bottom: `common` (constants, atomic storage), `speech` (narration), `game` (the rules, the observation
encoder, datasets, the scripted player), `learn` (the network, training, the baseline), `search` (the Monte Carlo
search, the endgame search, self-play, the hard positions, evaluation) and `run` (the configuration, the pure
decisions, the history, the run state). The commands and the faces of the public API (`env`, `policy`,
`mc_search`, `evaluate`) stay at the repository's top level; nothing in here imports them (`tests/test_layers.py`).
"""
