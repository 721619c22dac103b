"""The search's face: `from mc_search import monte_carlo_action` gives the batched Monte Carlo search, kept in
`snake_mc/search/rollouts.py`.

For each candidate move the search plays K rollouts of H moves with the policy and keeps the policy's own move unless
another scores clearly higher (`SearchSettings` holds its knobs); `monte_carlo_actions` searches a whole `SnakeBatch`
at once, `monte_carlo_action` one `SnakeEnv`.
"""

from snake_mc.search.rollouts import (
    MCResult,
    SearchSettings,
    monte_carlo_action,
    monte_carlo_actions,
    threads_phrase,
    usable_cores,
)

__all__ = ["MCResult", "SearchSettings", "monte_carlo_action", "monte_carlo_actions", "threads_phrase", "usable_cores"]
