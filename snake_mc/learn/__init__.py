"""Learning: the network and its checkpoints, imitation and Monte Carlo training, the demonstrations' baseline."""
