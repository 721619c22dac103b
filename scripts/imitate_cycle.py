"""Can a network imitate the proven player (snake_mc/game/cycle_player.py) when the proof's facts are among its inputs?

    python scripts/imitate_cycle.py [--games 200] [--seed 20000] [--eval-games 200] [--eval-seed 21000] [--epochs 10]
                                    [--mirror] [--rule] [--train-seed 0]

1. Records `games` 10x10 games of the CyclePlayer (teacher_actions where it proves nothing): the state before each
   move (export_states) and the move taken.
2. For every recorded position, rebuilt with SnakeBatch.from_states, the stateless cycle facts per relative move
   (left, straight, right, as cycle_proof.prove_moves and the encoder's per-move features order them): proven (0/1),
   then moves to the food along the proof / 100 (NO_PROOF = 1.0 where not proven). Facts, not answers: never the
   player's move.
3. Trains two MLPs of SnakePolicy's default shape (2 hidden layers of 128, ReLU, 3 logits) by cross-entropy on the
   player's moves, `epochs` epochs, Adam lr 3e-3, batches of 512, 10 percent of the games held out (the best held-out
   epoch is kept): one on encode(batch) (v5) + the 6 facts, the control on encode(batch) alone. With --mirror each
   epoch sees a random half of the samples in the mirror (encoder mirrored, left/right facts and moves swapped).
4. Plays each network alone (greedy argmax, all games in lockstep, facts recomputed every move) on `eval-games` fresh
   games: boards filled, mean score, moves per apple (total moves / total apples, from length 3), and how often it
   leaves the proofs (a move was proven, the chosen one was not) or the rule below (the chosen move is not the proven
   move with the fewest moves to the food), and the share of positions where nothing is proven. With --rule, that
   stateless rule itself (no network; the stateless teacher where nothing is proven) is played as a reference row,
   its "accuracy" its agreement with the player on the held-out games (left where nothing is proven).
5. Prints the figures and the wall time of each step.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402, N812

from snake_mc.game.cycle_player import CyclePlayer  # noqa: E402
from snake_mc.game.cycle_proof import NOT_PROVEN, ProofSettings, prove_moves  # noqa: E402
from snake_mc.game.observation import encode  # noqa: E402
from snake_mc.game.rules import SnakeBatch  # noqa: E402
from snake_mc.game.scripted import scripted_action, tour_moves  # noqa: E402

GRID = 10
NO_PROOF = 1.0  # moves-to-food / 100 of a move with no proof
NUM_FACTS = 6  # proven L, S, R; moves to food / 100 L, S, R
FACT_MIRROR = np.array([2, 1, 0, 5, 4, 3])  # left <-> right
ACTION_MIRROR = np.array([2, 1, 0])
CHUNK = 4096


def teacher_actions(batch: SnakeBatch, live: np.ndarray) -> np.ndarray:
    actions, applies = tour_moves(batch)
    for i in live[~applies[live]]:
        actions[i] = scripted_action(batch, int(i))
    return actions


def record_games(n: int, seed: int) -> dict:
    """States before each move, the CyclePlayer's moves, and each sample's game, over n lockstep games."""
    batch = SnakeBatch(n, GRID, seeds=np.arange(seed, seed + n))
    player = CyclePlayer(batch, ProofSettings())
    states, actions, games = [], [], []
    fallbacks = 0
    while True:
        live = np.flatnonzero(~batch.done)
        if len(live) == 0:
            break
        act = np.ones(n, np.int64)
        need = []
        for i in live:
            a = player.act_one(batch, int(i))
            if a < 0:
                need.append(int(i))
            act[i] = a
        if need:
            fallbacks += len(need)
            act[need] = teacher_actions(batch, np.array(need))[need]
        exported = batch.export_states()
        states.append({k: v[live] for k, v in exported.items()})
        actions.append(act[live])
        games.append(live)
        batch.step(act)
    print(f"  recorded: filled {int(batch.won.sum())}/{n}, moves per apple {moves_per_apple(batch):.2f}, "
          f"{sum(len(a) for a in actions)} positions, fallback positions {fallbacks}")
    merged = {k: np.concatenate([s[k] for s in states]) for k in states[0]}
    return {"states": merged, "actions": np.concatenate(actions), "games": np.concatenate(games)}


def moves_per_apple(batch: SnakeBatch) -> float:
    return float(batch.t.sum()) / max(float(batch.score.sum()), 1.0)


def cycle_facts(batch: SnakeBatch, rows: np.ndarray) -> np.ndarray:
    """(len(rows), 6) float32: proven (0/1) per relative move, then moves to the food / 100 (NO_PROOF if unproven)."""
    out = np.empty((len(rows), NUM_FACTS), np.float32)
    ttl = batch.ttl().astype(np.int64)
    settings = ProofSettings()
    for j, i in enumerate(rows):
        safe, to_food = prove_moves(batch, int(i), settings, ttl_row=ttl[i])
        out[j, :3] = safe
        out[j, 3:] = np.where(safe & (to_food < NOT_PROVEN), to_food / 100.0, NO_PROOF)
    return out


def build_inputs(states: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(v5 encoding, v5 encoding mirrored, facts) for every recorded state, rebuilt in chunks."""
    n = len(states["direction"])
    plain, mirrored, facts = [], [], []
    for lo in range(0, n, CHUNK):
        part = {k: v[lo:lo + CHUNK] for k, v in states.items()}
        batch = SnakeBatch.from_states(part)
        plain.append(encode(batch))
        mirrored.append(encode(batch, mirror=True))
        facts.append(cycle_facts(batch, np.arange(batch.num_games)))
    return np.concatenate(plain), np.concatenate(mirrored), np.concatenate(facts)


def make_mlp(inputs: int) -> nn.Module:
    """SnakePolicy's default shape: inputs -> 128 -> 128 -> 3 logits, ReLU."""
    return nn.Sequential(nn.Linear(inputs, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 3))


def split_games(games: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices of the training games and of the 10 percent held out, whole games at a time."""
    ids = np.unique(games)
    rng = np.random.default_rng(seed)
    held = rng.choice(ids, max(1, len(ids) // 10), replace=False)
    is_held = np.isin(games, held)
    return np.flatnonzero(~is_held), np.flatnonzero(is_held)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.inference_mode():
        pred = torch.cat([model(x[lo:lo + 8192]).argmax(1) for lo in range(0, len(x), 8192)])
    return float((pred == y).float().mean())


def train(data: dict, use_facts: bool, epochs: int, mirror: bool, seed: int = 0) -> tuple[nn.Module, float]:
    """Cross-entropy on the player's moves; returns the best held-out epoch's network and its held-out accuracy."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    plain, flipped = data["plain"], data["mirrored"]
    facts, y = data["facts"], data["actions"]
    if use_facts:
        plain = np.concatenate([plain, facts], 1)
        flipped = np.concatenate([flipped, facts[:, FACT_MIRROR]], 1)
    tr, va = split_games(data["games"], 0)  # the same held-out games whatever the training seed
    x_plain, x_flip = torch.from_numpy(plain), torch.from_numpy(flipped)
    y_plain, y_flip = torch.from_numpy(y), torch.from_numpy(ACTION_MIRROR[y])
    model = make_mlp(plain.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    best, best_state = -1.0, None
    for epoch in range(epochs):
        order = rng.permutation(tr)
        flip = rng.random(len(order)) < 0.5 if mirror else np.zeros(len(order), bool)
        for lo in range(0, len(order), 512):
            idx, fl = torch.from_numpy(order[lo:lo + 512]), torch.from_numpy(flip[lo:lo + 512])
            xb = torch.where(fl[:, None], x_flip[idx], x_plain[idx])
            yb = torch.where(fl, y_flip[idx], y_plain[idx])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = accuracy(model, x_plain[va], y_plain[va])
        print(f"    epoch {epoch + 1}: last batch loss {loss.item():.4f}, held-out accuracy {acc:.4f}")
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model, best


def network_chooser(model: nn.Module, use_facts: bool):  # noqa: ANN201
    """Greedy argmax of the network over the live games' inputs (v5, plus the facts when it was trained on them)."""
    def choose(batch: SnakeBatch, live: np.ndarray, facts: np.ndarray) -> np.ndarray:
        x = encode(batch)[live]
        if use_facts:
            x = np.concatenate([x, facts], 1)
        with torch.inference_mode():
            return model(torch.from_numpy(x)).argmax(1).numpy()
    return choose


def rule_choose(batch: SnakeBatch, live: np.ndarray, facts: np.ndarray) -> np.ndarray:
    """Reference, no network: the proven move with the fewest moves to the food (first among equals); where nothing
    is proven, the stateless teacher (tour_moves, else scripted_action)."""
    chosen = np.where(facts[:, :3] > 0, facts[:, 3:], 9.0).argmin(1)
    none = facts[:, :3].max(1) == 0
    if batch is not None and none.any():
        chosen[none] = teacher_actions(batch, live[none])[live[none]]
    return chosen


def play(choose, n: int, seed: int) -> dict:  # noqa: ANN001
    """`choose` alone, n games in lockstep; facts recomputed every move for the live games (inputs and diagnostics:
    how often a move with no proof is chosen while some move is proven, and how often the chosen move is not the
    proven move with the fewest moves to the food)."""
    batch = SnakeBatch(n, GRID, seeds=np.arange(seed, seed + n))
    positions = off_proof = off_rule = unproven = 0
    while True:
        live = np.flatnonzero(~batch.done)
        if len(live) == 0:
            break
        facts = cycle_facts(batch, live)
        chosen = choose(batch, live, facts)
        any_proven = facts[:, :3].max(1) > 0
        positions += len(live)
        unproven += int((~any_proven).sum())
        off_proof += int((any_proven & (facts[np.arange(len(live)), chosen] == 0)).sum())
        off_rule += int((any_proven & (chosen != rule_choose(batch, live, facts))).sum())
        actions = np.ones(n, np.int64)
        actions[live] = chosen
        batch.step(actions)
    died = int((batch.terminated & ~batch.won).sum())
    return {"filled": int(batch.won.sum()), "died": died, "starved": int(batch.truncated.sum()),
            "score": float(batch.score.mean()), "mpa": moves_per_apple(batch), "n": n, "positions": positions,
            "off_proof": off_proof, "off_rule": off_rule, "unproven": unproven}


def timed(label: str, walls: dict, fn, *args):  # noqa: ANN001, ANN202
    start = time.perf_counter()
    result = fn(*args)
    walls[label] = time.perf_counter() - start
    print(f"[{label}: {walls[label]:.1f} s]", flush=True)
    return result


def report(rows: dict, walls: dict, args: argparse.Namespace) -> None:
    print(f"\nCyclePlayer data: {args.games} games from seed {args.seed}; evaluation: {args.eval_games} games from "
          f"seed {args.eval_seed}; {args.epochs} epochs; mirror {args.mirror}; training seed {args.train_seed}")
    print(f"{'inputs':<22}{'held-out acc':>14}{'filled':>10}{'died':>6}{'starved':>9}{'mean score':>12}{'moves/apple':>13}"
          f"{'off proof':>11}{'off rule':>10}{'unproven':>10}")
    for name, (acc, r) in rows.items():
        print(f"{name:<22}{acc:>14.4f}{r['filled']:>6}/{r['n']:<3}{r['died']:>6}{r['starved']:>9}{r['score']:>12.2f}"
              f"{r['mpa']:>13.2f}{r['off_proof'] / r['positions']:>11.4f}{r['off_rule'] / r['positions']:>10.4f}"
              f"{r['unproven'] / r['positions']:>10.4f}")
    print("off proof: share of evaluation positions where a move was proven but the chosen move was not; off rule: "
          "where the chosen move was not the proven move with the fewest moves to the food (rule row's accuracy: "
          "its agreement with the player on the held-out games); unproven: where no move was proven")
    print("wall times: " + ", ".join(f"{k} {v:.1f} s" for k, v in walls.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20000)
    parser.add_argument("--eval-games", type=int, default=200)
    parser.add_argument("--eval-seed", type=int, default=21000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--mirror", action="store_true")
    parser.add_argument("--train-seed", type=int, default=0, help="network initialisation and sample order")
    parser.add_argument("--rule", action="store_true", help="also play the stateless rule (reference row, no network)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    walls: dict[str, float] = {}
    data = timed("record", walls, record_games, args.games, args.seed)
    data["plain"], data["mirrored"], data["facts"] = timed("facts+encode", walls, build_inputs, data.pop("states"))
    _, held = split_games(data["games"], 0)
    data["rule_acc"] = float((rule_choose(None, held, data["facts"][held]) == data["actions"][held]).mean())
    rows = {}
    for name, use_facts in (("v5 + 6 cycle facts", True), ("v5 only (control)", False)):
        print(f"  {name}:")
        model, acc = timed(f"train {name}", walls, train, data, use_facts, args.epochs, args.mirror,
                              args.train_seed)
        chooser = network_chooser(model, use_facts)
        rows[name] = (acc, timed(f"eval {name}", walls, play, chooser, args.eval_games, args.eval_seed))
        print(f"  {name}: {rows[name][1]}", flush=True)
    if args.rule:
        rows["rule (no network)"] = (data["rule_acc"], timed("eval rule", walls, play, rule_choose, args.eval_games,
                                                                args.eval_seed))
    report(rows, walls, args)


if __name__ == "__main__":
    main()
