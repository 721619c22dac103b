"""TrainConfig: defaults, every flag, the TOML layer and its precedence, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from snake_mc.run.config import ConfigError, Paths, TrainConfig, build_parser, load_toml, make_config, parse_config

EXPECTED_DEFAULTS = {
    "num_iterations": 10, "mc_episodes": 32, "mc_K": 3, "mc_H": 40, "mc_K_step": 2, "mc_H_step": 10,
    "mc_adapt_threshold": 0.5, "mc_adapt_speed_threshold": 0.1, "mc_adapt_patience": 2, "mc_reuse_iters": 3,
    "mc_num_workers": 2, "train_epochs": 4,
    "mc_weight": 3.0, "include_human_data": True, "eval_episodes": 1000, "fast_eval_episodes": 400, "eval_full_every": 2,
    "rollback_z": 2.0, "hard_games": 1000, "hard_rewind": 100, "hard_K": 3, "hard_H": 40, "hard_margin": 0.0,
    "record_videos": False, "video_episodes": 5, "grid_size": 10, "reward": "default", "seed": 0, "device": "auto",
    "backend": "process", "ray_address": None, "workdir": ".", "progress": "auto", "imitation_demos": 200,
    "imitation_epochs": 10,
    "policy_hidden": 128, "policy_layers": 2, "batch_size": 512, "lr": 1e-3, "mc_temperature": 0.0, "mc_target": "hard",
    "mc_margin": 0.5, "mc_discount": 0.98, "mc_trap_check": True, "mc_detours": 64, "mc_search_threads": 0,
    "mc_worker_timeout": 300.0,
    "mc_perturbed_share": 0.5,
    "threads": 1, "config": None, "verbose": False, "quiet": False, "debug": False,
}  # fmt: skip


def exit_line(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    """Run the parser as the driver does; it must exit 2 with exactly one line on stderr."""
    with pytest.raises(SystemExit) as info:
        parse_config(argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "usage:" not in captured.err
    return lines[0]


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    return path


README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_table_the_tests_use_is_the_configs_defaults() -> None:
    """EXPECTED_DEFAULTS pins every default the other tests lean on; no flags means exactly those."""
    assert TrainConfig().to_dict() == EXPECTED_DEFAULTS
    assert parse_config([]) == TrainConfig()


def test_the_readme_states_the_defaults_the_config_has() -> None:
    """The user's document says the defaults in words ("`--hard-games` games (1,000; ...", "a full one (400 games)
    every second iteration"); each number it gives must be the default the parser applies."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    knobs = [action for action in build_parser()._actions if action.dest in EXPECTED_DEFAULTS]
    defaults = {flag: TrainConfig().to_dict()[action.dest] for action in knobs for flag in action.option_strings}
    stated = {flag: float(number.rstrip(",.").replace(",", ""))
              for flag, number in re.findall(r"`(--[a-z][a-z-]*)`[^`()]{0,50}\((?:default )?(\d[\d,.]*)", text)}  # fmt: skip
    assert {"--mc-episodes", "--mc-worker-timeout", "--hard-games", "--hard-rewind", "--hard-k", "--hard-h",
            "--mc-weight", "--rollback-z", "--mc-margin", "--mc-detours"} <= set(stated), stated  # fmt: skip
    for flag, number in stated.items():
        assert number == defaults[flag], f"the README says {flag} is {number:g} by default; the config says {defaults[flag]}"
    (fast,) = re.findall(r"A fast evaluation \((\d+) games", text)
    ((full, every),) = re.findall(r"a full one \((\d+) games\) every (\w+) iteration", text)
    assert int(fast) == TrainConfig().fast_eval_episodes and int(full) == TrainConfig().eval_episodes
    assert {"second": 2, "third": 3, "fourth": 4}[every] == TrainConfig().eval_full_every
    assert f"`--hard-margin {TrainConfig().hard_margin:g}`" in text


@pytest.mark.parametrize(
    ("argv", "field", "value"),
    [
        (["--num-iterations", "3"], "num_iterations", 3),
        (["--iterations", "4"], "num_iterations", 4),
        (["--mc-episodes", "8"], "mc_episodes", 8),
        (["--mc-k", "7"], "mc_K", 7),
        (["--mc-h", "33"], "mc_H", 33),
        (["--mc-k-step", "0"], "mc_K_step", 0),
        (["--mc-h-step", "5"], "mc_H_step", 5),
        (["--mc-adapt-threshold", "0.25"], "mc_adapt_threshold", 0.25),
        (["--mc-adapt-speed-threshold", "0.5"], "mc_adapt_speed_threshold", 0.5),
        (["--mc-adapt-patience", "4"], "mc_adapt_patience", 4),
        (["--mc-reuse-iters", "1"], "mc_reuse_iters", 1),
        (["--mc-num-workers", "3"], "mc_num_workers", 3),
        (["--mc-workers", "5"], "mc_num_workers", 5),
        (["--mc-search-threads", "2"], "mc_search_threads", 2),
        (["--mc-worker-timeout", "90"], "mc_worker_timeout", 90.0),
        (["--mc-temperature", "0.5"], "mc_temperature", 0.5),
        (["--mc-target", "soft"], "mc_target", "soft"),
        (["--train-epochs", "0"], "train_epochs", 0),
        (["--mc-weight", "2.5"], "mc_weight", 2.5),
        (["--no-include-human-data"], "include_human_data", False),
        (["--include-human-data"], "include_human_data", True),  # over a file that turns it off
        (["--imitation-demos", "12"], "imitation_demos", 12),
        (["--imitation-epochs", "2"], "imitation_epochs", 2),
        (["--batch-size", "64"], "batch_size", 64),
        (["--lr", "0.01"], "lr", 0.01),
        (["--eval-episodes", "600"], "eval_episodes", 600),
        (["--fast-eval-episodes", "10"], "fast_eval_episodes", 10),
        (["--eval-full-every", "3"], "eval_full_every", 3),
        (["--record-videos"], "record_videos", True),
        (["--no-record-videos"], "record_videos", False),  # over a file that turns it on
        (["--video-episodes", "2"], "video_episodes", 2),
        (["--grid-size", "6"], "grid_size", 6),
        (["--reward", "hungry"], "reward", "hungry"),
        (["--seed", "42"], "seed", 42),
        (["--device", "cuda:1"], "device", "cuda:1"),
        (["--backend", "ray"], "backend", "ray"),
        (["--backend", "ray", "--ray-address", "10.0.0.2:6379"], "ray_address", "10.0.0.2:6379"),
        (["--workdir", "/tmp/somewhere"], "workdir", "/tmp/somewhere"),
        (["--progress", "lines"], "progress", "lines"),
        (["--quiet"], "quiet", True),
    ],
)
def test_each_flag_sets_its_knob(argv: list[str], field: str, value: object, tmp_path: Path) -> None:
    """Every row sets a value its knob would not have without the flag, so a flag that is not applied fails: a flag
    whose value is the default is given over a TOML file that sets the other value."""
    before = []
    if value == EXPECTED_DEFAULTS[field]:  # only the two booleans: the file sets the other one
        before = ["--config", str(write_toml(tmp_path, f"{field} = {str(not value).lower()}\n"))]
    assert getattr(parse_config(before), field) != value, "this row would pass with the flag ignored"
    cfg = parse_config([*before, *argv])
    assert getattr(cfg, field) == value
    untouched = {k: v for k, v in EXPECTED_DEFAULTS.items() if k not in (field, "backend", "config")}
    assert {k: getattr(cfg, k) for k in untouched} == untouched


def help_entries(text: str) -> dict[str, str]:
    """Each option's own help in argparse's help text, keyed by every flag of the option (`--iterations` too)."""
    entries: dict[str, str] = {}
    flags: list[str] = []
    for line in text.splitlines():
        if line.startswith("  -"):
            head, _, rest = line.strip().partition("  ")
            flags = re.findall(r"--?[a-z][\w-]*", head)
            entries.update(dict.fromkeys(flags, rest.strip()))
        elif line.startswith("   ") and flags:
            for flag in flags:
                entries[flag] = f"{entries[flag]} {line.strip()}".strip()
        else:
            flags = []
    return entries


def spoken_default(value: object) -> str:
    return "none" if value is None else ("on" if value else "off") if isinstance(value, bool) else str(value)


def test_help_lists_every_knob_with_its_default() -> None:
    """Each flag's own help ends with its own default (the seed document's, EXPECTED_DEFAULTS), said once."""
    entries = help_entries(build_parser().format_help())
    for name, default in EXPECTED_DEFAULTS.items():
        flag = "--" + name.lower().replace("_", "-")
        assert flag in entries, f"{flag} is not in the help"
        assert entries[flag].endswith(f"(default: {spoken_default(default)})"), (flag, entries[flag])
        assert entries[flag].count("(default:") == 1, (flag, entries[flag])
    assert entries["--iterations"] == entries["--num-iterations"] and entries["--mc-workers"].endswith("(default: 2)")
    assert entries["--eval-episodes"].endswith("(default: 1000)")  # the finding: 100 was asked for and passed


def test_help_says_the_few_common_flags_and_help_all_says_every_one(capsys) -> None:
    """--help is heard in under a minute (issue 26: 148 lines took 5.5 minutes); --help-all is the full list."""
    for flag in ("--help", "-h"):
        with pytest.raises(SystemExit) as ended:
            build_parser().parse_args([flag])
        assert ended.value.code == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert 5 <= len(lines) <= 16, lines
        assert any(line.startswith("  --iterations: ") and line.endswith("Default: 10.") for line in lines)
        assert any(line.startswith("  --workdir: ") and "the current folder" in line for line in lines)
        assert lines[-1].endswith("--help-all.") and not any("--mc-k-step" in line for line in lines)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help-all"])
    assert "--mc-k-step" in capsys.readouterr().out


def test_toml_overrides_defaults_and_flags_override_toml(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'mc_K = 7\n"mc-h" = 30\ninclude_human_data = false\nreward = "hungry"\nlr = 1\n')
    cfg = parse_config(["--config", str(path)])
    assert (cfg.mc_K, cfg.mc_H, cfg.include_human_data, cfg.reward) == (7, 30, False, "hungry")
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.config == str(path)
    assert cfg.mc_episodes == 32  # untouched by the file
    cfg = parse_config(["--mc-k", "9", "--config", str(path), "--include-human-data"])
    assert (cfg.mc_K, cfg.mc_H, cfg.include_human_data) == (9, 30, True)


def test_toml_accepts_short_flag_names(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "iterations = 3\nmc-workers = 4\n")
    cfg = parse_config(["--config", str(path)])
    assert (cfg.num_iterations, cfg.mc_num_workers) == (3, 4)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--mc-k", "-3"], "--mc-k must be at least 1, not -3."),
        (["--mc-k", "0"], "--mc-k "),
        (["--mc-h", "0"], "--mc-h "),
        (["--mc-k-step", "-1"], "--mc-k-step "),
        (["--mc-h-step", "-2"], "--mc-h-step "),
        (["--mc-episodes", "0"], "--mc-episodes "),
        (["--eval-episodes", "-5"], "--eval-episodes "),
        (["--fast-eval-episodes", "0"], "--fast-eval-episodes "),
        (["--fast-eval-episodes", "50", "--eval-episodes", "40"], "--fast-eval-episodes (50) cannot exceed --eval-episodes (40)"),
        (["--video-episodes", "0"], "--video-episodes "),
        (["--backend", "threads"], "--backend must be one of process, ray"),
        (["--reward", "sparkly"], "--reward must be one of"),
        (["--progress", "loud"], "--progress must be one of auto, bar, lines, off"),
        (["--device", "tpu"], "--device must be auto, cpu, cuda or cuda:N"),
        (["--mc-target", "medium"], "--mc-target must be one of soft, hard"),
        (["--grid-size", "3"], "--grid-size must be at least 4, not 3."),
        (["--grid-size", "64"], "--grid-size must be at most 63, not 64."),
        (["--mc-perturbed-share", "1.5"], "--mc-perturbed-share must lie from 0 to 1, not 1.5."),
        (["--mc-perturbed-share", "nan"], "--mc-perturbed-share must lie from 0 to 1, not nan."),
        (["--mc-workers", "0"], "--mc-num-workers must be at least 1"),
        (["--mc-search-threads", "-1"], "--mc-search-threads must be at least 0"),
        (["--threads", "0"], "--threads must be at least 1, not 0."),
        (["--threads", "5000"], "--threads must be at most 1,024, not 5,000."),
        (["--mc-worker-timeout", "0"], "--mc-worker-timeout must be a number of seconds above zero"),
        (["--mc-worker-timeout", "-5"], "--mc-worker-timeout must be a number of seconds above zero"),
        (["--mc-worker-timeout", "nan"], "--mc-worker-timeout must be a finite number, not nan."),
        (["--lr", "inf"], "--lr must be a finite number, not inf."),
        (["--lr", "1e9"], "--lr must be at most 10, not 1e+09."),
        (["--mc-weight", "inf"], "--mc-weight must be a finite number"),
        (["--rollback-z", "inf"], "--rollback-z must be a finite number"),
        (["--mc-temperature", "nan"], "--mc-temperature must be zero or more"),
        (["--hard-margin", "1e300"], "--hard-margin must be at most"),
        (["--mc-worker-timeout", "1e9"], "at most 86,400 (a day)"),
        (["--mc-reuse-iters", "0"], "--mc-reuse-iters must be at least 1"),
        (["--mc-adapt-patience", "0"], "--mc-adapt-patience must be at least 1"),
        (["--mc-adapt-threshold", "-0.1"], "--mc-adapt-threshold must be zero or more"),
        (["--mc-adapt-speed-threshold", "-0.1"], "--mc-adapt-speed-threshold must be zero or more"),
        (["--mc-adapt-speed-threshold", "nan"], "--mc-adapt-speed-threshold must be zero or more"),
        (["--mc-adapt-speed-threshold", "inf"], "--mc-adapt-speed-threshold must be a finite number"),
        (["--mc-adapt-speed-threshold", "1e9"], "--mc-adapt-speed-threshold must be at most"),
        (["--train-epochs", "-1"], "--train-epochs must be at least 0"),
        (["--imitation-epochs", "-1"], "--imitation-epochs must be at least 0"),
        (["--lr", "0"], "--lr must be above zero"),
        (["--ray-address", "1.2.3.4:6379"], "--ray-address only applies to --backend ray"),
        (["--mc-k", "five"], "--mc-k: needs a whole number, not 'five'"),
        (["--lr", "fast"], "--lr: needs a number, not 'fast'"),
        (["--no-such-flag"], "--no-such-flag"),
        (["--quiet", "--verbose"], "--quiet and --verbose ask for opposite things; keep one of the two."),
    ],
)
def test_each_bad_setting_exits_2_with_one_line_naming_the_flag(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture
) -> None:
    assert flag in exit_line(argv, capsys)


def test_validate_raises_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="--mc-h must be at least 1") as info:
        TrainConfig(mc_H=0).validate()
    assert info.value.field_name == "mc_H"
    assert TrainConfig().validate() == TrainConfig()


def test_unknown_toml_key_is_one_line_naming_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_toml(tmp_path, "mc_episods = 3\n")
    line = exit_line(["--config", str(path)], capsys)
    assert str(path) in line and "'mc_episods'" in line and "mc_episodes" in line


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("mc_K = \n", "is not valid TOML"),
        ('mc_K = "five"\n', "mc_K must be a whole number, not 'five'"),
        ("include_human_data = 1\n", "include_human_data must be true or false"),
        ("[train]\nmc_K = 3\n", "unknown key 'train'"),
        ('config = "other.toml"\n', "unknown key 'config'"),
        ("mc_K = 3\nmc-k = 4\n", "sets mc_K twice"),
    ],
)
def test_bad_toml_contents_name_the_file(tmp_path: Path, text: str, expect: str, capsys: pytest.CaptureFixture) -> None:
    path = write_toml(tmp_path, text)
    line = exit_line(["--config", str(path)], capsys)
    assert str(path) in line and expect in line


def test_missing_or_unreadable_toml_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    line = exit_line(["--config", str(tmp_path / "absent.toml")], capsys)
    assert "absent.toml does not exist" in line
    line = exit_line(["--config", str(tmp_path)], capsys)  # a folder is not a file
    assert str(tmp_path) in line and "not a regular file" in line


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("mc_K = " + "[" * 100_000 + "]" * 100_000 + "\n", "nests more than"),
        ("mc_K = " + "{a = " * 100_000 + "1" + "}" * 100_000 + "\n", "nests more than"),
        ("a" + ".a" * 100_000 + " = 1\n", "nests more than"),  # tomllib would hold tens of gigabytes for it
        ("mc_K = 3\n" + "# padding\n" * 200_000, "far more than a list of settings needs"),
    ],
    ids=["arrays", "inline tables", "dotted key", "huge"],
)
def test_a_config_nested_deep_or_huge_is_refused_in_one_line(tmp_path: Path, text: str, expect: str,
                                                             capsys: pytest.CaptureFixture) -> None:
    line = exit_line(["--config", str(write_toml(tmp_path, text))], capsys)
    assert "run.toml" in line and expect in line and line.endswith(".")


def test_a_config_that_is_not_a_regular_file_is_refused_before_reading(capsys: pytest.CaptureFixture) -> None:
    line = exit_line(["--config", "/dev/zero"], capsys)  # read without bound, this would fill the memory
    assert line == "Config file /dev/zero is not a regular file; give --config the path of a TOML file."


def test_a_flat_config_with_brackets_and_dots_in_its_strings_and_comments_is_read(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '# a comment [[[[[[[[[[ with a.b.c.d.e.f.g.h.i.j\n'
                                'workdir = "runs/a.b.c.d.e.f.g.h.i.j/[[[[[[[[[[[["\nmc-k = 7\n')
    assert load_toml(path) == {"workdir": "runs/a.b.c.d.e.f.g.h.i.j/[[[[[[[[[[[[", "mc_K": 7}


def test_bad_value_from_toml_names_flag_and_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_toml(tmp_path, "mc_K = -3\n")
    line = exit_line(["--config", str(path)], capsys)
    assert line.startswith("--mc-k must be at least 1, not -3") and str(path) in line
    assert parse_config(["--config", str(path), "--mc-k", "2"]).mc_K == 2  # the flag fixes it


def test_load_toml_returns_field_names(tmp_path: Path) -> None:
    assert load_toml(write_toml(tmp_path, 'mc-k-step = 3\ndevice = "cpu"\n')) == {"mc_K_step": 3, "device": "cpu"}
    with pytest.raises(ConfigError):
        make_config(["--config", str(tmp_path / "nope.toml")])


def test_paths_follow_the_seed_layout(tmp_path: Path) -> None:
    paths = TrainConfig(workdir=str(tmp_path)).paths
    assert paths == Paths(tmp_path)
    expected = {
        "human_demos": "data/human_demos.npz", "imitation_policy": "data/policy_imitation.pt",
        "mc_policy": "data/policy_mc.pt", "mc_demos": "data/mc_demos.npz",
        "logs_dir": "training_logs", "models_dir": "training_logs/models", "mc_archive_dir": "training_logs/mc_demos",
        "videos_dir": "training_logs/videos", "history": "training_logs/training_history.npz",
        "run_state": "training_logs/run_state.json", "train_log": "training_logs/train.log",
        "events": "training_logs/events.jsonl", "summary_csv": "training_logs/summary.csv",
        "progress_png": "training_logs/training_progress.png", "summary_txt": "training_logs/training_summary.txt",
    }  # fmt: skip
    for name, rel in expected.items():
        assert getattr(paths, name) == tmp_path / rel, name
    paths.make_dirs()
    folders = ("data", "training_logs/models", "training_logs/mc_demos", "training_logs/videos")
    assert all((tmp_path / d).is_dir() for d in folders)


def test_to_dict_is_json_and_round_trips() -> None:
    cfg = parse_config(["--mc-k", "6", "--backend", "ray", "--ray-address", "auto"])
    restored = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert restored == cfg
    with pytest.raises(ConfigError, match="'bogus'"):
        TrainConfig.from_dict({**cfg.to_dict(), "bogus": 1})


def test_an_infinite_learning_rate_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import iterative_train

    with pytest.raises(SystemExit) as info:
        iterative_train.main(["--workdir", str(tmp_path / "run"), "--lr", "inf"])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip() == "--lr must be a finite number, not inf."
    assert not (tmp_path / "run").exists(), "nothing was done before the flag was refused"


def test_help_opens_with_a_short_usage_line_then_the_flags_in_groups() -> None:
    """Read aloud, the old help opened with 25 lines of brackets; a listener now hears one short usage sentence, then
    each group's name before its flags."""
    from snake_mc.run.config import HELP_GROUPS

    text = build_parser().format_help()
    first = text.splitlines()[0]
    assert first.startswith("usage: python iterative_train.py [flags]") and len(first) < 120 and "[--" not in text
    headings = [line[:-1] for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert [h for h in headings if h in HELP_GROUPS.values()] == list(HELP_GROUPS.values())


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--seed", str(2**64)], "--seed must be at most 2,147,483,647, not 18,446,744,073,709,551,616."),
        (["--grid-size", "0"], "--grid-size must be at least 4, not 0."),
        (["--mc-k-step", "20000"], "--mc-k-step must be at most 10,000, not 20,000."),
        (["--mc-h-step", "200000"], "--mc-h-step must be at most 100,000, not 200,000."),
    ],
)
def test_issue_26_settings_are_refused_in_one_sentence(argv: list[str], said: str, capsys: pytest.CaptureFixture,
                                                       tmp_path: Path) -> None:
    """A seed past 64 bits and a board of no cells are one sentence each, not an OverflowError or 'a 0 by 0 grid'; a
    growth step past the search's maxima is refused too (the growth itself stops at the maxima, so a rerun accepts
    what it saves)."""
    assert exit_line(argv, capsys) == said
    key = argv[0][2:]
    value = argv[1]
    path = write_toml(tmp_path, f"{key} = {value}\n")
    assert exit_line(["--config", str(path)], capsys) == f"{said[:-1]} (set in config file {path})."
