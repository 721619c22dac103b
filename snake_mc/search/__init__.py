"""Search: the batched Monte Carlo rollouts, the deeper look (endgame search, detours), self-play, the hard positions,
evaluation."""
