"""Search: the batched Monte Carlo rollouts, the endgame search, self-play, the hard positions."""
