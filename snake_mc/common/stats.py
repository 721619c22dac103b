"""Small statistics the layers above share: the interval of a share."""

from __future__ import annotations

import math


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 percent (Wilson score) interval of a share: unlike mean +- 2 se it stays inside 0..1 and is honest near
    100 percent, where a fill rate lives (1,000 of 1,000 boards filled still says 99.6 percent at worst)."""
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
