"""Supervised training of the policy: imitation of demonstrations, and fine-tuning on Monte Carlo action values.

policy.py holds the network and its checkpoints; this module is how the weights are learned. Both trainers share one
loop (`_fit`) with the same rules:
- samples are kept as compact game states (about 220 bytes each) and encoded batch by batch, plain or mirrored (a
  left-right mirror with left and right swapped is the same game; each epoch mirrors a random half of the samples).
  Encoding costs about a microsecond a position, a few percent of a step, while encoding everything up front held
  2.6 kilobytes a sample twice over, and the run's memory grew with its data (3.3 GB at the default settings);
- the held-out split is by episode, never by sample: neighbouring moves of one game are nearly identical, so a
  sample split would measure memory, not play on games the policy never saw;
- the best validation epoch is kept (a copy of its weights in memory) and returned;
- AdamW with a cosine learning-rate schedule; seeded (torch for the initial weights, numpy for split and shuffles).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from snake_mc.common.constants import MC_TARGETS as TARGETS
from snake_mc.game import datasets
from snake_mc.game.cycle_proof import PROOF_FACTS
from snake_mc.game.observation import MIRROR_ACTIONS, encode, obs_size, proof_facts
from snake_mc.game.rules import SnakeBatch
from snake_mc.learn.network import SnakePolicy, build_policy, resolve_device
from snake_mc.speech.narrate import Narrator, count, format_seconds, given_or_console, plural

WEIGHT_DECAY = 1e-4
EVAL_CHUNK = 8192
MIRROR_SHARE = 0.5  # the share of samples seen in the mirror each epoch
# Samples trained per second before this run has measured its own, on one torch thread (the default): measured on our
# 2-core machine, about 107 thousand a second idle and 55 to 57 thousand beside two busy processes (bench/threads.py,
# and the imitation training of a 2-iteration run), so an expected duration errs a little long rather than short.
TRAIN_SAMPLES_PER_S = 50_000
# Positions whose proof facts (observation.proof_facts) are found per second, each plain and mirrored, before this run
# has measured its own: about 9 thousand measured on our 2-core machine with both cores free; taken as 5 thousand.
PROOFS_PER_S = 5_000
PROOF_CHUNK = 4096


@dataclass
class TrainReport:
    """What one training run achieved; accuracies are fractions (0..1), NaN where nothing was held out."""

    train_loss: float
    val_loss: float
    train_accuracy: float
    val_accuracy: float
    samples: int
    val_samples: int
    epochs: int
    best_epoch: int
    seconds: float
    kind: str = "imitation"

    @property
    def samples_per_second(self) -> float:
        """Throughput: samples seen (all epochs) per second of the whole call, encoding and set-up included."""
        return self.samples * self.epochs / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        """Plain Python values only, so the report can go into a checkpoint loaded with weights_only=True."""
        return {k: (float(v) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def sentence(self) -> str:
        """One sentence a listener can follow."""
        what = "Imitation training" if self.kind == "imitation" else "Training on the Monte Carlo targets"
        move = "demonstrated move" if self.kind == "imitation" else "target move"
        head = f"{what} took {format_seconds(self.seconds)} for {self.epochs} epochs over {count(self.samples, 'move')}"
        if self.val_samples == 0:
            return (
                f"{head}; there were too few games to hold any out, so it kept the last epoch, which chose the "
                f"{move} in {100 * self.train_accuracy:.1f} percent of training positions."
            )
        return (f"{what} took {format_seconds(self.seconds)}; the policy chose the {move} in "
                f"{100 * self.val_accuracy:.1f} percent of held-out positions.")

    def details(self) -> str:
        """The rest, for the log and --verbose: the epochs, the data and the fit to the training positions."""
        return (f"It ran {self.epochs} epochs over {count(self.samples, 'move')}, {count(self.val_samples, 'position')} "
                f"held out; the best was epoch {self.best_epoch}, "
                f"whose policy chose the {self.kind == 'imitation' and 'demonstrated' or 'target'} move in "
                f"{100 * self.train_accuracy:.1f} percent of training positions.")


@dataclass
class _Samples:
    """Samples as compact game states (encoded per batch) and their targets as tensors."""

    states: dict[str, np.ndarray]  # datasets.STATE_KEYS, N rows each
    target: torch.Tensor  # (N, 3) target distribution over actions (one-hot for a recorded move)
    weight: torch.Tensor  # (N,)
    value: torch.Tensor  # (N,) value target, 0 where unused
    has_value: torch.Tensor  # (N,) 1.0 where the value head is trained
    proofs: np.ndarray | None = None  # (2, N, 6) each position's proof facts, plain and mirrored, NaN until needed

    def __len__(self) -> int:
        return len(self.weight)

    def proofs_of(self, idx: np.ndarray, batch: SnakeBatch, mirror: bool) -> np.ndarray:
        """The positions' proof facts, computed once: the proof is most of the encoder's cost, and every epoch
        encodes every position again."""
        if self.proofs is None:
            self.proofs = np.full((2, len(self), PROOF_FACTS), np.nan, np.float32)
        cache = self.proofs[int(mirror)]
        missing = np.flatnonzero(np.isnan(cache[idx, 0]))
        if len(missing):
            cache[idx[missing]] = proof_facts(batch.take(missing), mirror)
        return cache[idx]

    def x(self, idx: np.ndarray, mirrored: np.ndarray | None = None) -> torch.Tensor:
        """The encoded positions `idx`, those flagged in `mirrored` seen in the mirror, on the targets' device."""
        idx = np.asarray(idx)
        mirrored = np.zeros(len(idx), bool) if mirrored is None else np.asarray(mirrored, bool)
        batch = SnakeBatch.from_states({k: v[idx] for k, v in self.states.items()})
        x = np.empty((len(idx), obs_size(batch.grid_size)), np.float32)
        for flip in (False, True):
            part = np.flatnonzero(mirrored == flip)
            if len(part):
                games = batch if len(part) == len(idx) else batch.take(part)
                x[part] = encode(games, mirror=flip, proofs=self.proofs_of(idx[part], games, flip))
        return torch.from_numpy(x).to(self.target.device)


# ----- data preparation ----------------------------------------------------------------------------------------
def split_by_episode(episode: np.ndarray, val_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices (train, held out): whole episodes go to one side. With two or more episodes and a positive
    `val_fraction`, at least one episode is held out and at least one is kept for training."""
    episode = np.asarray(episode)
    episodes = np.unique(episode)
    if len(episodes) < 2 or val_fraction <= 0:
        return np.arange(len(episode)), np.zeros(0, dtype=np.int64)
    n_val = min(len(episodes) - 1, max(1, round(val_fraction * len(episodes))))
    held = rng.permutation(episodes)[:n_val]
    is_val = np.isin(episode, held)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _targets(data: dict, target: str, soft_temperature: float) -> np.ndarray:
    """(N, 3) target distributions: one-hot recorded moves, or a softmax of the Monte Carlo action values."""
    chosen = np.eye(3, dtype=np.float32)[np.asarray(data["actions"], dtype=np.int64)]
    if target == "soft":
        values = np.asarray(data["action_values"], dtype=np.float64) / soft_temperature
        unsearched = np.isnan(values).any(axis=1)  # the only proven-safe move: the move itself is the target
        values = np.where(unsearched[:, None], 0.0, values)
        values -= values.max(axis=1, keepdims=True)
        p = np.exp(values)
        return np.where(unsearched[:, None], chosen, p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    return chosen


@dataclass
class _Source:
    """One dataset's part in a run: its samples' targets, loss weight and (for Monte Carlo data) value targets."""

    data: dict
    target: np.ndarray
    weight: float
    value: np.ndarray | None
    name: str


def _select_samples(data: dict, idx: np.ndarray, source: _Source, device: torch.device) -> _Samples:
    """The chosen samples' states and their targets as tensors on `device`."""
    n = len(idx)
    value = np.full(n, np.nan, np.float32) if source.value is None else source.value[idx]
    known = np.isfinite(value)  # a position not searched has no value to learn
    recorded = data.get("proofs")  # the facts as played (the kept proof included); NaN rows: computed when needed
    return _Samples(
        states=datasets.states_of(data, idx),
        target=torch.from_numpy(source.target[idx]).to(device),
        weight=torch.full((n,), float(source.weight), device=device),
        value=torch.from_numpy(np.where(known, value, 0.0).astype(np.float32)).to(device),
        has_value=torch.from_numpy(known.astype(np.float32)).to(device),
        proofs=None if recorded is None else np.ascontiguousarray(np.asarray(recorded, np.float32)[idx].transpose(1, 0, 2)),
    )


def _join(parts: list[_Samples]) -> _Samples | None:
    parts = [p for p in parts if len(p)]
    if len(parts) <= 1:
        return parts[0] if parts else None
    return _Samples(
        states={k: np.concatenate([p.states[k] for p in parts]) for k in parts[0].states},
        target=torch.cat([p.target for p in parts]),
        weight=torch.cat([p.weight for p in parts]),
        value=torch.cat([p.value for p in parts]),
        has_value=torch.cat([p.has_value for p in parts]),
        proofs=None if all(p.proofs is None for p in parts) else np.concatenate(
            [np.full((2, len(p), PROOF_FACTS), np.nan, np.float32) if p.proofs is None else p.proofs for p in parts],
            axis=1),
    )


def _prepare(
    sources: list[_Source], val_fraction: float, rng: np.random.Generator, device: torch.device
) -> tuple[_Samples, _Samples | None, int]:
    """Split each source by episode, join the sources' two sides; also count held-out episodes."""
    train, val, held = [], [], 0
    for s in sources:
        tr, va = split_by_episode(s.data["episode"], val_fraction, rng)
        held += len(np.unique(s.data["episode"][va]))
        train.append(_select_samples(s.data, tr, s, device))
        val.append(_select_samples(s.data, va, s, device))
    joined, val_joined = _join(train), _join(val)
    del train, val  # memory: the joined copies are all that training needs
    if joined is None:
        raise ValueError("There are no training samples: every dataset given is empty or weighted zero.")
    return joined, val_joined, held


# ----- the training loop ---------------------------------------------------------------------------------------
def _losses(
    policy: SnakePolicy,
    x: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor,
    value: torch.Tensor,
    has_value: torch.Tensor,
    value_weight: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(weighted mean loss, weighted count of argmax agreements, weight sum) for one batch."""
    logits, v = policy(x)
    ce = -(target * F.log_softmax(logits, dim=1)).sum(dim=1)
    wsum = weight.sum()
    loss = (weight * ce).sum() / wsum
    if v is not None and value_weight > 0:
        vw = weight * has_value  # the value head learns only from samples that carry a value target
        loss = loss + value_weight * (vw * (v - value) ** 2).sum() / vw.sum().clamp_min(1e-12)
    correct = (weight * (logits.argmax(dim=1) == target.argmax(dim=1))).sum()
    return loss, correct, wsum


@torch.no_grad()
def _evaluate(policy: SnakePolicy, data: _Samples, value_weight: float) -> tuple[float, float]:
    """Loss and accuracy on the plain (unmirrored) views, weighted as in training."""
    policy.eval()
    n = len(data)
    total_loss = total_correct = total_w = 0.0
    for start in range(0, n, EVAL_CHUNK):
        sl = slice(start, min(n, start + EVAL_CHUNK))
        x = data.x(np.arange(sl.start, sl.stop))
        loss, correct, wsum = _losses(
            policy, x, data.target[sl], data.weight[sl], data.value[sl], data.has_value[sl], value_weight
        )
        total_loss += float(loss) * float(wsum)
        total_correct += float(correct)
        total_w += float(wsum)
    return total_loss / total_w, total_correct / total_w


@dataclass
class _Epoch:
    """One epoch's numbers (training ones measured during the epoch, on the augmented samples)."""

    train_loss: float = math.nan
    val_loss: float = math.nan
    train_accuracy: float = math.nan
    val_accuracy: float = math.nan
    epoch: int = 0


def _train_epoch(policy: SnakePolicy, train: _Samples, rng: np.random.Generator, batch_size: int,
                 value_weight: float, step: tuple, epoch: int) -> _Epoch:
    """One epoch over the samples in a fresh order, a share of them seen in the mirror; `step` is the optimizer, its
    schedule and the progress counter (one update per batch). Returns the epoch's weighted loss and accuracy."""
    optimizer, schedule, progress = step
    n, device = len(train), train.target.device
    flip = torch.as_tensor(MIRROR_ACTIONS, device=device)
    policy.train()
    order_np = rng.permutation(n)
    mirrored_np = rng.random(n) < MIRROR_SHARE  # seen in the mirror this epoch
    order = torch.from_numpy(order_np).to(device)
    mirrored = torch.from_numpy(mirrored_np).to(device)
    sums = torch.zeros(3, device=device)  # loss x weight, correct, weight: read once per epoch, not per step
    for start in range(0, n, batch_size):
        i = order[start : start + batch_size]
        i_np = order_np[start : start + batch_size]
        m = mirrored[i, None]
        x = train.x(i_np, mirrored_np[i_np])
        target = torch.where(m, train.target[i][:, flip], train.target[i])
        loss, correct, wsum = _losses(policy, x, target, train.weight[i], train.value[i], train.has_value[i],
                                      value_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        sums += torch.stack([loss.detach() * wsum, correct, wsum])
        progress.update(1)
    sum_loss, sum_correct, sum_w = sums.tolist()
    return _Epoch(train_loss=sum_loss / sum_w, train_accuracy=sum_correct / sum_w, epoch=epoch)


def _unproven(part: _Samples) -> np.ndarray:
    """The positions of `part` whose plain or mirrored proof facts are not known yet."""
    if part.proofs is None:
        return np.arange(len(part))
    return np.flatnonzero(np.isnan(part.proofs[:, :, 0]).any(axis=0))


def _prove_ahead(train: _Samples, val: _Samples | None, narrator: Narrator) -> None:
    """Find every position's proof facts before the first epoch (the training positions plain and mirrored, the
    held-out ones plain): they are most of the encoder's cost, and left to the first epoch they would make its time
    say nothing about the epochs after it."""
    work = [(train, True)] + ([(val, False)] if val is not None and len(val) else [])
    # Positions recorded with their facts (as played, the kept proof included) need no proof now.
    todo = [(part, mirrored_too, _unproven(part)) for part, mirrored_too in work]
    total = sum(len(idx) for _, _, idx in todo)
    if total == 0:
        return
    expected = narrator.expected_seconds("proofs", total, PROOFS_PER_S)
    started = time.perf_counter()
    with narrator.progress(total, "Safety proofs", unit="positions", expected_s=expected,
                           plan=f"Proving which moves are safe in {count(total, 'position')}") as progress:
        for part, mirrored_too, unproven in todo:
            for lo in range(0, len(unproven), PROOF_CHUNK):
                idx = unproven[lo : lo + PROOF_CHUNK]
                batch = SnakeBatch.from_states({k: v[idx] for k, v in part.states.items()})
                part.proofs_of(idx, batch, False)
                if mirrored_too:
                    part.proofs_of(idx, batch, True)
                progress.update(len(idx))
    narrator.measured("proofs", total, time.perf_counter() - started)


def _fit(
    policy: SnakePolicy,
    train: _Samples,
    val: _Samples | None,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
    value_weight: float,
    narrator: Narrator,
    description: str,
) -> _Epoch:
    """Train in place, then load the weights of the best held-out epoch (the last one when nothing is held out)."""
    n = len(train)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs * math.ceil(n / batch_size)))
    best, best_state = _Epoch(), None
    expected = narrator.expected_seconds("training", epochs * n, TRAIN_SAMPLES_PER_S)
    plan = f"{description}: {plural(epochs, 'epoch')} over {count(n, 'sample')}"
    batches = max(1, math.ceil(n / batch_size))  # progress counts batches, so news comes even in a long epoch
    with narrator.progress(epochs * batches, description, unit="epochs", expected_s=expected, plan=plan,
                           per=batches, steady=True) as progress:
        for epoch in range(1, epochs + 1):
            step = (optimizer, schedule, progress)
            now = _train_epoch(policy, train, rng, batch_size, value_weight, step, epoch)
            if val is not None:
                now.val_loss, now.val_accuracy = _evaluate(policy, val, value_weight)
            if val is None or best_state is None or now.val_loss < best.val_loss:
                best, best_state = now, {k: v.detach().clone() for k, v in policy.state_dict().items()}
    policy.eval()
    if best_state is None:  # zero epochs: report the policy as it is
        best.train_loss, best.train_accuracy = _evaluate(policy, train, value_weight)
        if val is not None:
            best.val_loss, best.val_accuracy = _evaluate(policy, val, value_weight)
        return best
    policy.load_state_dict(best_state)
    return best


# ----- public trainers -----------------------------------------------------------------------------------------
def _check_common(epochs: int, batch_size: int, lr: float, val_fraction: float) -> None:
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"The number of epochs must be a whole number of 0 or more, not {epochs}.")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"The batch size must be a whole number of at least 1, not {batch_size}.")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"The learning rate must be a positive number, not {lr}.")
    if not (0 <= val_fraction < 1):
        raise ValueError(f"The held-out fraction must be at least 0 and below 1, not {val_fraction}.")


def _run(
    model: SnakePolicy,
    sources: list[_Source],
    *,
    kind: str,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    val_fraction: float,
    value_weight: float,
    device: torch.device,
    narrator: Narrator,
) -> tuple[SnakePolicy, TrainReport]:
    """The part both trainers share: split, encode, announce, fit, report."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    model.to(device)
    train, val, held = _prepare(sources, val_fraction, rng, device)
    what = " and ".join(
        f"{count(datasets.num_samples(s.data), 'move')} from {datasets.num_episodes(s.data)} {s.name} games"
        for s in sources
    )
    goal = "imitate" if kind == "imitation" else "follow"
    if held:
        check = f", holding out {held} of those games to check it on games it never saw"
    else:
        check = "; there are too few games to hold any out"
    narrator.say(f"Training the policy to {goal} {what}{check}.", detail=True)
    description = "Imitation training" if kind == "imitation" else "Monte Carlo training"
    _prove_ahead(train, val, narrator)
    best = _fit(
        model, train, val, epochs=epochs, batch_size=batch_size, lr=lr, rng=rng, value_weight=value_weight,
        narrator=narrator, description=description,
    )  # fmt: skip
    report = TrainReport(
        train_loss=best.train_loss,
        val_loss=best.val_loss,
        train_accuracy=best.train_accuracy,
        val_accuracy=best.val_accuracy,
        samples=len(train),
        val_samples=0 if val is None else len(val),
        epochs=int(epochs),
        best_epoch=best.epoch,
        seconds=time.perf_counter() - start,
        kind=kind,
    )
    narrator.say(report.sentence(), detail=kind != "imitation")
    if kind != "imitation":  # the phase's end in a few words: the evaluations follow, and a listener hears a step
        narrator.say(f"Training took {format_seconds(report.seconds)}; the new policy's evaluation follows.")
    if report.val_samples:
        narrator.say(report.details(), detail=True)
    narrator.measured("training", report.samples * report.epochs, report.seconds)
    fields = report.as_dict()
    fields["trainer"] = fields.pop("kind")
    narrator.event("training", samples_per_second=round(report.samples_per_second), **fields)
    return model, report


def train_imitation(
    demos: dict,
    *,
    epochs: int = 10,
    batch_size: int = 512,
    lr: float = 3e-3,
    seed: int = 0,
    val_fraction: float = 0.1,
    device: str = "auto",
    model_config: dict | None = None,
    policy: SnakePolicy | None = None,
    narrator: Narrator | None = None,
) -> tuple[SnakePolicy, TrainReport]:
    """Teach a policy to choose the demonstrated move (cross-entropy), keeping the best held-out epoch.

    On 200 scripted 10x10 games of the tour player (about 290,000 moves) 10 epochs take about a minute on 2 cores
    and reach a held-out accuracy of 100.0 percent with encoder v4 (docs/experiments.md).

    `policy`, when given, is copied and trained further; otherwise a new one is built from `model_config` (default:
    the standard network for the demos' grid). The caller's policy is never changed.
    """
    _check_common(epochs, batch_size, lr, val_fraction)
    grid = int(demos["grid_size"])
    datasets.validate_dataset(demos, "The demonstrations", grid)
    if datasets.num_samples(demos) == 0:
        raise ValueError("The demonstrations hold no moves, so there is nothing to imitate.")
    torch.manual_seed(seed)
    model = copy.deepcopy(policy) if policy is not None else build_policy({"grid_size": grid, **(model_config or {})})
    if model.grid_size != grid:
        g = model.grid_size
        raise ValueError(f"The policy plays a {g} by {g} grid but the demonstrations are {grid} by {grid}.")
    source = _Source(demos, _targets(demos, "hard", 1.0), 1.0, None, str(demos["source"]))
    return _run(
        model, [source], kind="imitation", epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        val_fraction=val_fraction, value_weight=0.0, device=resolve_device(device),
        narrator=given_or_console(narrator),
    )  # fmt: skip


def train_mc(
    policy: SnakePolicy,
    human: dict | None,
    mc: dict,
    *,
    mc_weight: float = 1.0,
    include_human_data: bool = True,
    epochs: int = 10,
    batch_size: int = 512,
    lr: float = 1e-3,
    seed: int = 0,
    val_fraction: float = 0.1,
    target: str = "hard",
    soft_temperature: float = 0.5,
    value_weight: float = 0.0,
    device: str = "auto",
    narrator: Narrator | None = None,
) -> tuple[SnakePolicy, TrainReport]:
    """Fine-tune a copy of `policy` on Monte Carlo data (and, unless excluded, the human demonstrations).

    Each Monte Carlo sample weighs `mc_weight` in the loss and each demonstrated move 1 (a weight, never duplication;
    a source weighted 0 is left out entirely). The policy target is the recorded move (`target="hard"`) or
    softmax(action_values / soft_temperature) (`"soft"`), which also says how much worse the other moves were. With
    `value_weight` above 0 the value head, if any, learns the best action's value from the searched Monte Carlo
    samples. It is 0 by default: the search does not bootstrap from the value head unless asked, and once every
    position was searched (values of up to several apples over 100 moves) its squared error swamped the shared layers:
    one round of the default run's data took the tour-trained policy from 98.5 to 88 percent of boards filled with
    weight 0.5, and to 99.0 with 0 (400 tuning games; docs/experiments.md).
    """
    _check_common(epochs, batch_size, lr, val_fraction)
    if target not in TARGETS:
        raise ValueError(f"The training target must be 'soft' or 'hard', not {target!r}.")
    if not (math.isfinite(soft_temperature) and soft_temperature > 0):
        raise ValueError(f"The soft-target temperature must be a positive number, not {soft_temperature}.")
    if not (math.isfinite(mc_weight) and mc_weight >= 0) or not (math.isfinite(value_weight) and value_weight >= 0):
        raise ValueError(f"The Monte Carlo weight and value weight must be 0 or more, not {mc_weight} and {value_weight}.")
    grid = policy.grid_size
    datasets.validate_dataset(mc, "The Monte Carlo data", grid)
    if "action_values" not in mc:
        raise ValueError("The Monte Carlo data has no action_values, so there is nothing to learn the move values from.")
    values = np.asarray(mc["action_values"], dtype=np.float32)
    searched = ~np.isnan(values).all(axis=1)  # a row of NaN: a position with one proven-safe move, not searched
    if not np.isfinite(values[searched]).all():
        raise ValueError("The Monte Carlo data holds action values that are not finite numbers; generate it again.")
    sources = []
    if human is not None and include_human_data:
        datasets.validate_dataset(human, "The human demonstrations", grid)
        sources.append(_Source(human, _targets(human, "hard", 1.0), 1.0, None, str(human["source"])))
    if mc_weight > 0:
        sources.append(_Source(mc, _targets(mc, target, soft_temperature), mc_weight,
                               np.where(searched, np.nan_to_num(values).max(axis=1), np.nan), "self-play"))
    torch.manual_seed(seed)
    return _run(
        copy.deepcopy(policy), sources, kind="mc", epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        val_fraction=val_fraction, value_weight=value_weight, device=resolve_device(device),
        narrator=given_or_console(narrator),
    )  # fmt: skip
