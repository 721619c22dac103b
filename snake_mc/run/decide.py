"""The loop's decisions, as pure functions: what to compare, whether to keep, when to grow the search, when to drop
the demonstrations. No file is read or written here; `iterative_train.py` does, and the tests call these directly.

Compared with what: a new policy is always compared with the policy it would replace (data/policy_mc.pt as the
iteration began), on the same seeded games, game by game. The fast comparison uses the first `fast` games; the full
one all `full` games. When the replaced policy has no scores on the full games yet (it was kept on a fast evaluation),
the driver evaluates it there first, so both sides of every comparison played exactly the same games.

The rule: the new policy is rolled back only when it fills fewer boards than the one it replaces, scores lower, or
is slower (more moves per apple on the boards both filled), by more than `rollback_z` standard errors of the paired
difference (2 by default): a change that large happens by chance about one time in 40, so a rollback answers a real
drop, not the noise of a few games. The share of boards filled is the headline figure, and near 99 percent a lost
board moves the mean score by little, so it has a voice of its own; a policy that fills every board has both at their
ceiling, and only its speed can still tell better from worse, so speed has a voice too. Every other result keeps the
new policy, so the loop keeps moving while no evidence says it got worse. The K/H growth and the human-data switch
read the same comparison and the new policy's own scores, never an older policy's: an iteration whose score rose by
less than `adapt_threshold` and whose moves per apple fell by less than `adapt_speed_threshold` is low improvement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snake_mc.common.stats import wilson_interval  # noqa: F401 - the decisions' statistics, named here too
from snake_mc.speech.narrate import count, plural


@dataclass
class Candidate:
    """A checkpoint found at bootstrap, with its mean score on the bootstrap's games (None when unusable)."""

    path: Path
    mean_score: float | None = None
    problem: str = ""


def pick_best(candidates: list[Candidate]) -> Candidate | None:
    """The usable candidate with the highest score; earlier candidates win ties (data/policy_mc.pt comes first)."""
    usable = [c for c in candidates if c.mean_score is not None]
    return max(usable, key=lambda c: c.mean_score, default=None) if usable else None


def paired(new: np.ndarray, old: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of per-game differences `new - old` on the same seeded games (nan for one game)."""
    diff = np.asarray(new, dtype=float) - np.asarray(old, dtype=float)
    if len(diff) == 0:
        return math.nan, math.nan
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.nan
    return float(diff.mean()), se


def moves_per_apple(lengths: np.ndarray, scores: np.ndarray) -> float:
    """All moves over all apples: how fast a policy eats, the figure left to improve once it fills every board (nan
    when no apple was eaten)."""
    apples = float(np.sum(scores))
    return float(np.sum(lengths)) / apples if apples > 0 else math.nan


def paired_speed(new_scores: np.ndarray, new_lengths: np.ndarray, new_won: np.ndarray, old_scores: np.ndarray,
                 old_lengths: np.ndarray, old_won: np.ndarray) -> tuple[float, float, int]:
    """Mean and standard error of the per-game change in moves per apple (length over score), new minus old, on the
    games both policies filled, and how many those are. Only there do both eat the same apples, so the moves alone
    differ; nan and nan for fewer than 2 such games (one game has no noise to weigh a change against)."""
    new_s, old_s = np.asarray(new_scores, float), np.asarray(old_scores, float)
    both = np.asarray(new_won, bool) & np.asarray(old_won, bool) & (new_s > 0) & (old_s > 0)
    games = int(both.sum())
    if games < 2:
        return math.nan, math.nan, games
    gain, se = paired(np.asarray(new_lengths, float)[both] / new_s[both], np.asarray(old_lengths, float)[both] / old_s[both])
    return gain, se, games


def _dropped(gain: float, se: float, z: float) -> bool:
    """A drop of more than z standard errors; with a single game (no standard error) any drop counts."""
    return gain < 0 if math.isnan(se) else gain < -z * se


@dataclass(frozen=True)
class Comparison:
    """A new policy against the one it would replace, on the same `games` seeded games."""

    games: int
    new_mean: float
    gain: float  # mean score difference, new minus old
    se: float  # its standard error
    new_fill: float  # share of boards the new policy filled
    fill_gain: float  # difference in the share of boards filled
    fill_se: float
    new_moves_per_apple: float = math.nan  # the new policy's moves over its apples, on all these games
    speed_gain: float = math.nan  # change in moves per apple on the games both filled, new minus old (down: faster)
    speed_se: float = math.nan  # its standard error (both nan when unknown: no lengths, or fewer than 2 such games)
    speed_games: int = 0  # the games both policies filled

    @classmethod
    def of(cls, new_scores: np.ndarray, new_won: np.ndarray, old_scores: np.ndarray, old_won: np.ndarray,
           new_lengths: np.ndarray | None = None, old_lengths: np.ndarray | None = None) -> Comparison:
        """Pair the games; the speed needs both policies' episode lengths, and is unknown (nan) without them, as for
        a replaced policy measured before its lengths were saved."""
        n = len(new_scores)
        if len(old_scores) < n or len(old_won) < n:
            raise ValueError(f"The replaced policy has scores on {len(old_scores)} games, not the {n} compared.")
        if new_lengths is not None and len(new_lengths) != n:
            raise ValueError(f"The new policy has lengths for {len(new_lengths)} games, not the {n} compared.")
        gain, se = paired(new_scores, old_scores[:n])
        fill_gain, fill_se = paired(np.asarray(new_won, float), np.asarray(old_won[:n], float))
        mpa = math.nan if new_lengths is None else moves_per_apple(new_lengths, new_scores)
        speed: tuple[float, float, int] = (math.nan, math.nan, 0)
        if new_lengths is not None and old_lengths is not None and len(old_lengths) >= n:
            speed = paired_speed(new_scores, new_lengths, new_won, old_scores[:n], old_lengths[:n], old_won[:n])
        return cls(n, float(np.mean(new_scores)), gain, se, float(np.mean(new_won)), fill_gain, fill_se, mpa, *speed)

    @property
    def speed_known(self) -> bool:
        """Whether the speed was compared (both policies' lengths known, at least 2 boards both filled)."""
        return not math.isnan(self.speed_gain)

    def speed_words(self, verb: str = "") -> str:
        """'moves per apple down 0.05, standard error 0.02, on the 980 games both filled' (with verb 'are': 'moves
        per apple are down 0.05, ...', for a sentence); empty when unknown."""
        if not self.speed_known:
            return ""
        # Hundredths: the loop's real changes are a few hundredths of a move, which tenths would say as "level".
        said = f"{verb} {_signed(self.speed_gain, 2)}" if verb else _signed(self.speed_gain, 2)
        noise = "" if round(self.speed_se, 2) == 0 else f", standard error {self.speed_se:.2f}"
        return f"moves per apple {said}{noise}, on the {count(self.speed_games, 'game')} both filled"

    def sentence(self) -> str:
        """The change on the same games, said aloud with its standard errors."""
        if self.se == 0 and self.gain == 0 and self.fill_se == 0 and self.fill_gain == 0:
            # Game by game the same: no difference and no noise to report, so a listener hears it in a few words
            # (and the speed only when the same scores came in other numbers of moves).
            same = f"against the policy it would replace, it scored the same in each of the same {count(self.games, 'game')}"
            moved = self.speed_known and not (self.speed_gain == 0 and self.speed_se == 0)
            return f"{same}, and {self.speed_words('are')}" if moved else same
        se = "" if math.isnan(self.se) else f", standard error {self.se:.1f}"
        fill_se = "" if math.isnan(self.fill_se) else f", standard error {100 * self.fill_se:.0f}"
        fill = _points(self.fill_gain)
        text = (f"against the policy it would replace, on the same {count(self.games, 'game')}, the score is "
                f"{_signed(self.gain)}{se}")
        if not self.speed_known:
            return f"{text}, and the share of boards filled is {fill}{fill_se}"
        return f"{text}, the share of boards filled is {fill}{fill_se}, and {self.speed_words('are')}"


def _signed(x: float, digits: int = 1) -> str:
    if round(x, digits) == 0:
        return "level"
    return f"{'up' if x > 0 else 'down'} {abs(x):.{digits}f}"


def _points(share_gain: float) -> str:
    """A change in a share, in percentage points: 'up 16 points', 'unchanged'."""
    said = _signed(100 * share_gain, 0)
    if said == "level":
        return "unchanged"
    return f"{said} point" if said.endswith(" 1") else f"{said} points"


@dataclass(frozen=True)
class Rules:
    """The settings the decisions read, made from `TrainConfig` and the run's state (judging.rules_of), with no
    defaults of their own."""

    eval_full_every: int
    adapt_threshold: float
    adapt_speed_threshold: float  # a fall in moves per apple of at least this is improvement too
    adapt_patience: int
    K_step: int
    H_step: int
    rollback_z: float
    include_human_data: bool
    human_baseline: float


@dataclass(frozen=True)
class Standing:
    """What the decisions need from the run's record."""

    mc_K: int
    mc_H: int
    low_improvement_streak: int
    use_human_data: bool
    has_full_scores: bool  # the replaced policy was evaluated on the full games


def full_eval_reason(iteration: int, rules: Rules, standing: Standing, fast: Comparison) -> str | None:
    """Why this iteration gets a full evaluation, as a sentence fragment, or None when the fast one is enough."""
    if not standing.has_full_scores:
        return "the policy it would replace has no full score yet"
    if rules.eval_full_every > 0 and iteration % rules.eval_full_every == 0:
        return f"iteration {iteration} is a multiple of {rules.eval_full_every}"
    if fast.gain >= rules.adapt_threshold:
        return f"the fast score rose by {fast.gain:.1f}, at least the threshold of {rules.adapt_threshold:g}"
    if not math.isnan(fast.se) and fast.gain < -rules.rollback_z * fast.se:
        return "the fast score fell by more than its noise, and a rollback needs the full games to confirm it"
    if not math.isnan(fast.fill_se) and fast.fill_gain < -rules.rollback_z * fast.fill_se:
        return "fewer boards were filled by more than the noise, and a rollback needs the full games to confirm it"
    if fast.speed_gain <= -rules.adapt_speed_threshold:  # unknown (nan) is never true
        return (f"moves per apple fell by {-fast.speed_gain:.1f}, at least the threshold of "
                f"{rules.adapt_speed_threshold:g}")
    if _slower(fast, rules.rollback_z):
        return "moves per apple rose by more than the noise, and a rollback needs the full games to confirm it"
    return None


def _slower(c: Comparison, z: float) -> bool:
    """More moves per apple on the boards both filled by more than z standard errors; never when unknown."""
    return c.speed_known and _dropped(-c.speed_gain, c.speed_se, z)


@dataclass(frozen=True)
class Decision:
    """Everything the loop decided at the end of an iteration, and the sentences that say why."""

    keep: bool
    compared: Comparison  # the comparison the decision rests on (the full one when there was one)
    mc_K: int
    mc_H: int
    low_improvement_streak: int
    grew: bool
    use_human_data: bool  # for the next iteration, as the run's own rule left it (--no-include-human-data is per run)
    dropped_human_data: bool
    sentences: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # for the log and --verbose: the streak before the search grows

    @property
    def summary(self) -> str:
        """The decision in one sentence, for the history and the summary."""
        c = self.compared
        se = "" if math.isnan(c.se) else f" (standard error {c.se:.1f})"
        head = "kept" if self.keep else "rolled back, the previous policy restored"
        speed = f", {c.speed_words()}" if c.speed_known else ""
        text = f"{head}: {_signed(c.gain)}{se} on {count(c.games, 'game')}, boards filled {_points(c.fill_gain)}{speed}."
        if self.grew:
            text += f" K and H grew to {self.mc_K} and {self.mc_H}."
        if self.dropped_human_data:
            text += " Demonstrations dropped: the baseline is beaten."
        return text


def _verdict(compared: Comparison, rules: Rules) -> tuple[bool, str]:
    """Keep or roll back, and the sentence that says why: fewer boards filled, a lower score, or slower play (more
    moves per apple on the boards both filled), each by more than `rollback_z` standard errors."""
    fill_drop = _dropped(compared.fill_gain, compared.fill_se, rules.rollback_z)
    score_drop = _dropped(compared.gain, compared.se, rules.rollback_z)
    # The fill rate comes first: a policy that fills more boards beyond the noise is kept however fast it plays;
    # speed decides only between policies that fill about as many.
    fills_more = not math.isnan(compared.fill_se) and compared.fill_gain > rules.rollback_z * compared.fill_se
    slower = _slower(compared, rules.rollback_z) and not fills_more
    if not (fill_drop or score_drop or slower):
        return True, f"The new policy is kept: {compared.sentence()}."
    drops = [what for what, hit in (("the share of boards filled", fill_drop), ("the score", score_drop)) if hit]
    parts = [f"{' and '.join(drops)} dropped"] if drops else []
    if slower:
        parts.append("moves per apple rose")
    why = " and ".join(parts)
    so = "it is slower and " if slower and not drops else ""
    return False, (f"Rollback: {compared.sentence()}; {why} by more than {rules.rollback_z:g} standard errors, so {so}"
                   "the previous policy is restored.")


_Growth = tuple[int, int, int, bool, list[str], list[str]]  # K, H, streak, grew, sentences, details


def _growth(standing: Standing, compared: Comparison, keep: bool, rules: Rules) -> _Growth:
    """K, H, the low-improvement streak, whether the search grew, and the sentences and details that say so. A kept
    policy improved when its score rose by at least `adapt_threshold` or its moves per apple fell by at least
    `adapt_speed_threshold`; anything else, a rollback included, is low improvement. A policy that fills every board
    and is not getting faster has stalled too, and a larger search is the way on."""
    K, H, streak, grew = standing.mc_K, standing.mc_H, standing.low_improvement_streak, False
    said: list[str] = []
    details: list[str] = []
    scored = keep and compared.gain >= rules.adapt_threshold
    faster = keep and compared.speed_gain <= -rules.adapt_speed_threshold  # unknown speed (nan) is never faster
    if scored or faster:
        streak = 0
        if not scored:
            details.append(f"Moves per apple fell by {-compared.speed_gain:.1f}, at least the threshold of "
                           f"{rules.adapt_speed_threshold:g}, so the policy improved and the search stays as it is.")
        return K, H, streak, grew, said, details
    streak += 1
    if streak >= rules.adapt_patience and rules.K_step == rules.H_step == 0:
        streak = 0  # nothing left to grow (at the largest K and H a rerun accepts, or steps of 0): said as a detail
        details.append(f"The search stays at K {K} and H {H}: it cannot grow further.")
    elif streak >= rules.adapt_patience:
        K, H, streak, grew = K + rules.K_step, H + rules.H_step, 0, True
        said.append(f"The score improved by less than {rules.adapt_threshold:g}, and moves per apple fell by less "
                    f"than {rules.adapt_speed_threshold:g}, for {plural(rules.adapt_patience, 'iteration')} in a row, "
                    f"so the search grows: K from {standing.mc_K} to {K}, H from {standing.mc_H} to {H}.")
    else:
        details.append(f"Low improvement for {plural(streak, 'iteration')} in a row, of {rules.adapt_patience} "
                       "allowed before the search grows.")
    return K, H, streak, grew, said, details


def decide(standing: Standing, fast: Comparison, full: Comparison | None, rules: Rules) -> Decision:
    """Keep or roll back, grow the search or not, keep the demonstrations or not; with the sentences that say why."""
    compared = full if full is not None else fast
    keep, verdict = _verdict(compared, rules)
    K, H, streak, grew, grown, details = _growth(standing, compared, keep, rules)
    said = [verdict, *grown]
    use_human = standing.use_human_data and rules.include_human_data
    dropped = use_human and keep and compared.new_mean > rules.human_baseline
    if dropped:
        said.append(f"The policy now beats the demonstrations' mean, {compared.new_mean:.1f} against "
                    f"{rules.human_baseline:.1f}, so they are dropped from training from the next iteration on.")
    # The state remembers only the run's own drop: a --no-include-human-data of one command is not saved for good.
    return Decision(keep, compared, K, H, streak, grew, standing.use_human_data and not dropped, dropped, said,
                    details)
