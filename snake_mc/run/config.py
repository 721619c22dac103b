"""`TrainConfig`: every knob of the training driver, declared once with its default and a one-line help.

The command-line parser is generated from the dataclass fields, so a knob cannot exist in one place and be missing in
the other. Values come from three layers: the defaults here, then an optional TOML file (`--config run.toml`, keys
are field names such as `mc_K` or dashed flag names such as `mc-k`), then explicit flags, which win. Every check lives
in `TrainConfig.validate`, which raises `ConfigError` with one sentence naming the flag and the fix. The plumbing every
command shares (the parser rule, typed flags, the failure guard) is in snake_mc/common/cli.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import re
import stat
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path

from snake_mc.common.cli import OneLineParser, default_text, flag_name, knob, typed
from snake_mc.common.constants import (
    BACKENDS,
    DEFAULT_DETOURS,
    DEFAULT_DISCOUNT,
    DEFAULT_MARGIN,
    DEFAULT_TEMPERATURE,
    DEFAULT_TRAP_CHECK,
    MAX_DETOURS,
    MAX_GAMES,
    MAX_GRID,
    MAX_H,
    MAX_K,
    MAX_PARAMETERS,
    MC_TARGETS,
    PROGRESS_MODES,
    REWARD_PRESETS,
)
from snake_mc.common.seeds import MAX_ITERATION

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")
# Extra, shorter flags for the knobs people type most.
SHORT_FLAGS = {
    "num_iterations": "--iterations",
    "mc_num_workers": "--mc-workers",
}


class ConfigError(ValueError):
    """A bad setting; the message is one sentence naming the flag (or file) and the fix."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name


@dataclass(frozen=True)
class Paths:
    """Where every artifact of a run lives, from the work folder (names as the seed document gives them)."""

    workdir: Path

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def human_demos(self) -> Path:
        return self.data_dir / "human_demos.npz"

    @property
    def imitation_policy(self) -> Path:
        return self.data_dir / "policy_imitation.pt"

    @property
    def mc_policy(self) -> Path:
        return self.data_dir / "policy_mc.pt"

    @property
    def mc_demos(self) -> Path:
        return self.data_dir / "mc_demos.npz"

    @property
    def logs_dir(self) -> Path:
        return self.workdir / "training_logs"

    @property
    def models_dir(self) -> Path:
        return self.logs_dir / "models"

    @property
    def mc_archive_dir(self) -> Path:
        return self.logs_dir / "mc_demos"

    @property
    def videos_dir(self) -> Path:
        return self.logs_dir / "videos"

    @property
    def history(self) -> Path:
        return self.logs_dir / "training_history.npz"

    @property
    def run_state(self) -> Path:
        return self.logs_dir / "run_state.json"

    @property
    def train_log(self) -> Path:
        return self.logs_dir / "train.log"

    @property
    def events(self) -> Path:
        return self.logs_dir / "events.jsonl"

    @property
    def summary_csv(self) -> Path:
        return self.logs_dir / "summary.csv"

    @property
    def progress_png(self) -> Path:
        return self.logs_dir / "training_progress.png"

    @property
    def summary_txt(self) -> Path:
        return self.logs_dir / "training_summary.txt"

    def iteration_model(self, iteration: int) -> Path:
        """The policy accepted at the end of an iteration (iteration 0: the bootstrap's pick)."""
        return self.models_dir / f"policy_iter_{int(iteration)}_mc.pt"

    def iteration_archive(self, iteration: int) -> Path:
        """One iteration's self-play data."""
        return self.mc_archive_dir / f"iter_{int(iteration)}.npz"

    def make_dirs(self) -> None:
        """Create every folder the run writes into (files themselves are written atomically later)."""
        for folder in (self.data_dir, self.logs_dir, self.models_dir, self.mc_archive_dir, self.videos_dir):
            folder.mkdir(parents=True, exist_ok=True)


@dataclass
class TrainConfig:
    """Every knob of `iterative_train.py`. Defaults follow the seed document."""

    # The loop.
    num_iterations: int = knob(10, "The last iteration to reach; a rerun resumes and stops there, so raise it to train further.")
    # Self-play search.
    mc_episodes: int = knob(32, "Self-play episodes per iteration.")
    mc_K: int = knob(3, "Rollouts per candidate action in the Monte Carlo search.")
    mc_H: int = knob(40, "Rollout horizon in moves.")
    mc_K_step: int = knob(2, f"How much K grows when improvement stalls (never past {MAX_K:,}).")
    mc_H_step: int = knob(10, f"How much H grows when improvement stalls (never past {MAX_H:,}).")
    mc_adapt_threshold: float = knob(0.5, "A mean-score gain below this counts as low improvement.")
    mc_adapt_speed_threshold: float = knob(0.1, "A drop in moves per apple below this (on the boards both policies "
                                                "filled) counts as low improvement.")
    mc_adapt_patience: int = knob(2, "Low-improvement iterations in a row before K and H grow.")
    mc_reuse_iters: int = knob(3, "How many recent iterations of Monte Carlo data to train on.")
    mc_num_workers: int = knob(2, "Self-play worker processes.")
    mc_search_threads: int = knob(0, "Threads each self-play worker searches on; 0 shares out this machine's cores.")
    mc_worker_timeout: float = knob(300.0, "Seconds a self-play worker process may go without news (start-up included) "
                                           "before the run takes it for hung and stops, resumable.")
    mc_temperature: float = knob(DEFAULT_TEMPERATURE,
                                 "Sampling temperature of the rollout policy (0 plays greedily, measured stronger).")
    mc_discount: float = knob(DEFAULT_DISCOUNT, "Weight of each rollout move's reward against the move before's (an "
                                                "apple sooner is worth more; above 0, at most 1).")
    mc_margin: float = knob(DEFAULT_MARGIN,
                            "How much better (in apples) the search's best move must be to overrule the policy's own move.")
    mc_trap_check: bool = knob(DEFAULT_TRAP_CHECK,
                               "Count a rollout whose head is walled off from its own body at the horizon as dead.")
    mc_detours: int = knob(DEFAULT_DETOURS, "Sampled rollouts per move that hunt for a way to the food when the snake circles "
                               "hungry and no rollout found one (0: off; the search's speed falls where they run).")
    mc_perturbed_share: float = knob(0.5, "Share of self-play games, and of the scripted demonstrations a fresh run "
                                          "records, that get 3 random safe moves forced on them at a random move, so "
                                          "training sees positions off the teacher's path (0 to 1).")
    mc_target: str = knob("hard", "Training target from the search: soft (action values) or hard (best action).")
    # Hard positions: the moves that lose games, searched deeper (hard_positions.py).
    hard_games: int = knob(1000, "Greedy games played each iteration to find the policy's lost games (0 turns this off).")
    hard_rewind: int = knob(100, "How many of the last moves before each loss are searched again and trained on.")
    hard_K: int = knob(3, "Rollouts per candidate action when searching the positions before a loss.")
    hard_H: int = knob(40, "Rollout horizon in moves when searching the positions before a loss.")
    hard_margin: float = knob(0.0, "How much better a move must score to overrule the policy before a loss (0: any gain).")
    # Training.
    train_epochs: int = knob(4, "Epochs of training on each iteration's data.")
    mc_weight: float = knob(3.0, "Weight of Monte Carlo samples relative to demonstrations.")
    include_human_data: bool = knob(True, "Mix the demonstrations into each iteration's training data (for this "
                                     "command's iterations; not saved with the run).")
    imitation_demos: int = knob(200, "Scripted games to record when a fresh folder has no demonstrations.")
    imitation_epochs: int = knob(10, "Epochs of imitation training for the bootstrap policy.")
    policy_hidden: int = knob(128, "Hidden units per layer of a newly built policy network.")
    policy_layers: int = knob(2, "Hidden layers of a newly built policy network.")
    batch_size: int = knob(512, "Training batch size.")
    lr: float = knob(1e-3, "Learning rate.")
    # Evaluation and videos.
    eval_episodes: int = knob(1000, "Episodes in a full evaluation (enough to see a 1-point change in the share of "
                                    "boards filled near 99 percent).")
    fast_eval_episodes: int = knob(400, "Episodes in a fast evaluation (the first ones of the full evaluation).")
    eval_full_every: int = knob(2, "Run a full evaluation at least every this many iterations.")
    rollback_z: float = knob(2.0, "Roll back only when the new policy scores lower by more than this many standard errors.")
    record_videos: bool = knob(False, "Record a video of the best evaluation episode after each iteration.")
    video_episodes: int = knob(5, "Episodes played to pick the one worth recording.")
    # The game and the run.
    grid_size: int = knob(10, "Board width and height in cells.")
    reward: str = knob("default", f"Reward preset: {', '.join(REWARD_PRESETS)}.")
    seed: int = knob(0, "Seed of every random choice; the same seed gives the same run.")
    device: str = knob("auto", "Torch device: auto, cpu, cuda or cuda:N.")
    threads: int = knob(1, "Torch threads for training and evaluation (1: three times as fast as 2 beside busy programs, "
                           "10 percent slower on an idle machine; docs/experiments.md).")
    backend: str = knob("process", "Self-play workers: process (this machine) or ray (a Ray cluster).")
    ray_address: str | None = knob(None, "Address of a Ray cluster for --backend ray (none starts a local one).")
    workdir: str = knob(".", "Folder holding data/ and training_logs/.")
    progress: str = knob("auto", "Progress reports: auto or lines (sentences with the time left), bar (tqdm), or off.")
    debug: bool = knob(False, "Show the full traceback of an unexpected error instead of one sentence.")
    verbose: bool = knob(False, "Say every detail on the console (train.log always has them); by default an iteration "
                                "ends with a few sentences: the decision and its figures.")
    quiet: bool = knob(False, "Say only what matters on the console: errors, each iteration's decision in one sentence, "
                              "and the result (train.log and events.jsonl still get everything).")
    config: str | None = knob(None, "A TOML file of settings; flags given on the command line win over it.")

    # ----- derived ---------------------------------------------------------------------------------------------
    @property
    def paths(self) -> Paths:
        return Paths(Path(self.workdir))

    def to_dict(self) -> dict[str, object]:
        """Plain values only, for the events log and the run state."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> TrainConfig:
        """Rebuild from `to_dict` output; an unknown key is an error rather than silently dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"Unknown setting {unknown[0]!r}; known settings are the flag names listed by --help.")
        return cls(**values)

    # ----- the one place every setting is checked --------------------------------------------------------------
    def validate(self) -> TrainConfig:
        """Raise `ConfigError` for the first bad setting; return self so calls can chain."""
        self._check_counts()
        self._check_numbers()
        self._check_choices()
        return self

    def _check_counts(self) -> None:
        """Every whole-number knob within its range (the first that is not raises `ConfigError`)."""
        at_least = [
            ("num_iterations", 0), ("mc_episodes", 1), ("mc_K", 1), ("mc_H", 1), ("mc_K_step", 0), ("mc_H_step", 0),
            ("mc_adapt_patience", 1), ("mc_reuse_iters", 1), ("mc_num_workers", 1), ("mc_search_threads", 0), ("mc_detours", 0),
            ("train_epochs", 0), ("hard_games", 0), ("hard_rewind", 1), ("hard_K", 1), ("hard_H", 1),
            ("imitation_demos", 1), ("imitation_epochs", 0), ("policy_hidden", 1), ("policy_layers", 1),
            ("batch_size", 1), ("eval_episodes", 1),
            ("fast_eval_episodes", 1), ("eval_full_every", 1), ("video_episodes", 1), ("grid_size", 4), ("seed", 0),
            ("threads", 1),
        ]  # fmt: skip
        for name, low in at_least:
            value = getattr(self, name)
            if value < low:
                raise ConfigError(f"{flag_name(name)} must be at least {low}, not {value}.", name)
        at_most = [
            ("mc_episodes", MAX_GAMES), ("hard_games", MAX_GAMES), ("eval_episodes", MAX_GAMES), ("mc_K", MAX_K),
            ("mc_H", MAX_H), ("mc_K_step", MAX_K), ("mc_H_step", MAX_H), ("hard_K", MAX_K), ("hard_H", MAX_H),
            ("hard_rewind", 100_000),
            ("mc_num_workers", 1024), ("mc_search_threads", 1024), ("policy_hidden", 4096), ("policy_layers", 64),
            ("batch_size", 1_000_000), ("imitation_demos", MAX_GAMES), ("seed", 2**31 - 1), ("video_episodes", 1000),
            ("num_iterations", MAX_ITERATION),
            ("mc_detours", MAX_DETOURS), ("threads", 1024),
        ]  # fmt: skip
        for name, high in at_most:
            value = getattr(self, name)
            if value > high:
                raise ConfigError(f"{flag_name(name)} must be at most {high:,}, not {value:,}.", name)

    def _check_numbers(self) -> None:
        """Every real-number knob finite and within its range, the board and the network within their sizes."""
        if not 0 < self.mc_discount <= 1:  # also catches NaN
            raise ConfigError(f"--mc-discount must lie above 0 and at most 1, not {self.mc_discount}.", "mc_discount")
        if not 0 <= self.mc_perturbed_share <= 1:  # also catches NaN
            raise ConfigError(f"--mc-perturbed-share must lie from 0 to 1, not {self.mc_perturbed_share}.",
                              "mc_perturbed_share")
        for name in ("mc_adapt_threshold", "mc_adapt_speed_threshold", "mc_temperature", "mc_margin", "mc_weight",
                     "rollback_z", "hard_margin"):
            value = getattr(self, name)
            if not value >= 0:  # also catches NaN
                raise ConfigError(f"{flag_name(name)} must be zero or more, not {value}.", name)
        for name in FIELDS:  # no knob means anything at infinity: refused at start-up, before any work
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{flag_name(name)} must be a finite number, not {value}.", name)
        for name, high in (("lr", 10.0), ("mc_temperature", 100.0), ("rollback_z", 100.0), ("mc_weight", 1e6),
                           ("mc_margin", 1e6), ("hard_margin", 1e6), ("mc_adapt_threshold", 1e6),
                           ("mc_adapt_speed_threshold", 1e6)):
            if getattr(self, name) > high:
                raise ConfigError(f"{flag_name(name)} must be at most {high:g}, not {getattr(self, name):g}.", name)
        if self.grid_size > MAX_GRID:
            raise ConfigError(f"--grid-size must be at most {MAX_GRID}, not {self.grid_size}.", "grid_size")
        weights = self.policy_hidden * (self.policy_hidden * (self.policy_layers - 1) + 3 * self.grid_size**2 + 64)
        if weights > MAX_PARAMETERS:  # about the network's weights (policy.expected_shapes), kept cheap to import
            raise ConfigError(f"--policy-hidden {self.policy_hidden} with --policy-layers {self.policy_layers} makes a "
                              f"network of about {weights:,} weights, more than the {MAX_PARAMETERS:,} allowed; make "
                              "it narrower or shallower.", "policy_hidden")
        if not self.lr > 0:
            raise ConfigError(f"--lr must be above zero, not {self.lr}.", "lr")
        if not 0 < self.mc_worker_timeout <= 86_400:  # also catches NaN; a day of silence is a hang on any machine
            raise ConfigError(f"--mc-worker-timeout must be a number of seconds above zero and at most 86,400 (a day), "
                              f"not {self.mc_worker_timeout}.", "mc_worker_timeout")

    def _check_choices(self) -> None:
        """Every named choice one of its own, and no two settings at odds (the first that is raises `ConfigError`)."""
        if self.quiet and self.verbose:
            raise ConfigError("--quiet and --verbose ask for opposite things; keep one of the two.", "quiet")
        if self.fast_eval_episodes > self.eval_episodes:
            raise ConfigError(
                f"--fast-eval-episodes ({self.fast_eval_episodes}) cannot exceed --eval-episodes ({self.eval_episodes}); "
                "lower the first or raise the second.",
                "fast_eval_episodes",
            )
        choices = {
            "backend": BACKENDS,
            "reward": tuple(REWARD_PRESETS),
            "progress": PROGRESS_MODES,
            "mc_target": MC_TARGETS,
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"{flag_name(name)} must be one of {', '.join(allowed)}, not {value!r}.", name)
        if not _DEVICE_RE.match(self.device):
            raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N (N a GPU number), not {self.device!r}.", "device")
        if self.ray_address is not None and self.backend != "ray":
            raise ConfigError(
                "--ray-address only applies to --backend ray; add --backend ray or drop --ray-address.", "ray_address"
            )


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(TrainConfig)}
_TYPES: dict[str, object] = typing.get_type_hints(TrainConfig)


def _base_type(name: str) -> type:
    """int, float, bool or str: the field's type with any `| None` removed."""
    hint = _TYPES[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint  # type: ignore[return-value]


# The help lists the flags in groups, each opened by the first field of its group (in the order TrainConfig declares
# them): read aloud, a listener hears what a flag is about before its details.
HELP_GROUPS = {
    "num_iterations": "The loop", "mc_episodes": "Self-play and its search",
    "hard_games": "Hard positions: the moves that lose games, searched deeper", "train_epochs": "Training",
    "eval_episodes": "Evaluation and videos", "grid_size": "The game and the machine",
    "workdir": "Files, speech and settings",
}


# The flags most runs need, said by --help (a listener hears 15 lines, not 150); --help-all lists every one.
COMMON_FLAGS = ("num_iterations", "workdir", "seed", "grid_size", "mc_num_workers", "device", "progress", "quiet",
                "verbose", "config")


class _ShortHelp(argparse.Action):
    """--help: what the command does, the common flags with their defaults, and where the rest are."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: object, values: object, option: str | None = None) -> None:
        lines = ["Usage: python iterative_train.py [flags]. " + (parser.description or ""),
                 "The flags most runs need, each with its default:"]
        for name in COMMON_FLAGS:
            flag = SHORT_FLAGS.get(name, flag_name(name))
            default = "the current folder" if FIELDS[name].default == "." else default_text(FIELDS[name].default)
            lines.append(f"  {flag}: {FIELDS[name].metadata['help']} Default: {default}.")
        lines.append("Every other flag, in groups, is listed by python iterative_train.py --help-all.")
        print("\n".join(lines))  # on stdout, as argparse's own help
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser, generated from the fields. Unset flags stay out of the namespace (SUPPRESS), so
    `parse_config` can tell a flag the user typed from a default and let it win over the TOML file."""
    parser = OneLineParser(
        prog="iterative_train.py",
        usage="python iterative_train.py [flags], every flag listed below in groups, each with its default",
        description="Train a Snake policy by imitation, then improve it by iterative Monte Carlo self-play. "
        "Run it again to resume where the last completed iteration left off.",
        epilog="A rerun in the same --workdir resumes. The saved state wins for what the run has learned about itself "
        "(the next iteration, the current K and H, the low-improvement streak, whether its own rule dropped the "
        "demonstrations, the current policy's scores and their games); every other setting comes from this command's "
        "flags, for this command only. A different --mc-k or --mc-h is said aloud and left unused: start in another "
        "--workdir to search with other values. Another --seed, --fast-eval-episodes or --eval-episodes is said aloud, "
        "and the current policy plays the new games first.",
        allow_abbrev=False,
        argument_default=argparse.SUPPRESS,
        add_help=False,
    )
    parser.add_argument("-h", "--help", action=_ShortHelp, nargs=0, help="Say the few flags most runs need.")
    parser.add_argument("--help-all", action="help", help="List every flag, in groups, each with its default.")
    group: argparse._ActionsContainer = parser
    for name, f in FIELDS.items():
        if name in HELP_GROUPS:
            group = parser.add_argument_group(HELP_GROUPS[name])
        flags = [flag_name(name)]
        if name in SHORT_FLAGS:
            flags.append(SHORT_FLAGS[name])
        helptext = f"{f.metadata['help']} (default: {default_text(f.default)})"
        kind = _base_type(name)
        if kind is bool:
            group.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, help=helptext)
        elif name == "config":
            group.add_argument(*flags, dest=name, metavar="FILE.toml", help=helptext)
        else:
            metavar = name.upper() if kind is str else {int: "N", float: "X"}[kind]
            group.add_argument(*flags, dest=name, type=typed(kind), metavar=metavar, help=helptext)
    return parser


def _toml_key(key: str) -> str | None:
    """The field a TOML key names: the field name itself, or its flag or short flag without the dashes."""
    for name in FIELDS:
        names = {name, name.lower(), flag_name(name)[2:]}
        if name in SHORT_FLAGS:
            names.add(SHORT_FLAGS[name][2:])
        if key in names:
            return name
    return None


def _check_toml_value(path: Path, key: str, name: str, value: object) -> object:
    kind = _base_type(name)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, int | float) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[kind]
    if not ok:
        word = {bool: "true or false", int: "a whole number", float: "a number", str: "a quoted string"}[kind]
        raise ConfigError(f"In config file {path}, {key} must be {word}, not {value!r}.", name)
    return float(value) if kind is float else value


MAX_CONFIG_BYTES = 1 << 20  # a config file is a flat list of a few dozen settings: a few kilobytes
MAX_CONFIG_NESTING = 8  # brackets or dotted-key parts: none of our settings nests at all
_TOML_STRINGS = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'')


def _toml_nesting(text: str) -> int:
    """How deep the text nests (brackets, braces, dotted keys), strings and comments left out: tomllib parses deep
    nesting by recursion, and a long dotted key in memory that grows with the square of its length."""
    plain = re.sub(r"#[^\n]*", "", _TOML_STRINGS.sub('""', text))
    depth = deepest = 0
    for char in plain:
        depth += (char in "[{") - (char in "]}")
        deepest = max(deepest, depth)
    dots = max((line.split("=", 1)[0].count(".") for line in plain.splitlines()), default=0)
    return max(deepest, dots + 1)


def _read_config(path: Path) -> str:
    """The text of a config file: a regular file of a sane size, checked before it is read."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"Config file {path} is not a regular file; give --config the path of a TOML file.")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"Config file {path} holds {info.st_size:,} bytes, far more than a list of settings "
                              f"needs (at most {MAX_CONFIG_BYTES:,}); give --config the path of a TOML file.")
        with open(path, "rb") as handle:
            text = handle.read(MAX_CONFIG_BYTES + 1).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist; check the path given to --config.") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"Config file {path} cannot be read ({reason}); check the path given to --config.") from None
    if _toml_nesting(text) > MAX_CONFIG_NESTING:
        raise ConfigError(f"Config file {path} nests more than {MAX_CONFIG_NESTING} levels deep, but its settings are "
                          "a flat list of names and values; fix the file or drop --config.")
    return text


def load_toml(path: str | Path) -> dict[str, object]:
    """Settings from a TOML file, keyed by field name, type-checked; unknown keys and unreadable files are errors."""
    path = Path(path)
    try:
        raw = tomllib.loads(_read_config(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML ({exc}); fix the file or drop --config.") from None
    values: dict[str, object] = {}
    for key, value in raw.items():
        name = _toml_key(key)
        if name is None or name == "config":
            close = difflib.get_close_matches(key, [n for n in FIELDS if n != "config"], n=1)
            hint = f"; did you mean {close[0]}?" if close else "; the keys are the setting names listed by --help."
            raise ConfigError(f"Config file {path} has an unknown key {key!r}{hint}")
        if name in values:
            raise ConfigError(f"Config file {path} sets {name} twice; keep one of the two keys.", name)
        values[name] = _check_toml_value(path, key, name, value)
    return values


def make_config(argv: list[str] | None = None) -> TrainConfig:
    """Defaults, then the TOML file, then explicit flags; validated. Raises `ConfigError` (argparse may exit 2)."""
    explicit = vars(build_parser().parse_args(argv))
    values: dict[str, object] = {}
    file_keys: set[str] = set()
    if explicit.get("config"):
        values = load_toml(explicit["config"])
        file_keys = set(values)
    values.update(explicit)
    cfg = TrainConfig(**values)
    try:
        return cfg.validate()
    except ConfigError as exc:
        if exc.field_name in file_keys and exc.field_name not in explicit:
            raise ConfigError(f"{str(exc).rstrip('.')} (set in config file {cfg.config}).", exc.field_name) from None
        raise


def parse_config(argv: list[str] | None = None) -> TrainConfig:
    """The driver's entry point: a bad setting ends the program with one sentence on stderr and exit status 2."""
    try:
        return make_config(argv)
    except ConfigError as exc:
        build_parser().exit(2, f"{exc}\n")
