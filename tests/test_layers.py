"""The house's floors: the package's layers import only the layers below them, never a top-level file.

Every import in every module is read from its syntax tree (nothing is imported or run), the ones inside functions
included, so a lazy import cannot slip past.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "snake_mc"
LAYERS = ("common", "speech", "game", "learn", "search", "run")  # bottom to top
REQUIRED = ("iterative_train", "policy", "mc_search", "env", "evaluate", "video_recorder", "visualize_training")
COMMANDS = ("play", "train_imitation")
TOP_LEVEL = {p.stem for p in ROOT.glob("*.py")}


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in `path`; relative imports are resolved against its package."""
    package = list(path.relative_to(root).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]  # `from snake_mc import run`
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "snake_mc" and parts[1] in LAYERS else None


def package_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_package_has_its_layers_and_every_module_lies_in_one():
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(LAYERS)
    for layer in LAYERS:
        assert (PACKAGE / layer / "__init__.py").is_file(), f"snake_mc/{layer} has no __init__.py"
    strays = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert strays == [], f"modules outside every layer: {strays}"


def test_the_required_top_level_files_remain_and_nothing_else_is_there():
    for name in REQUIRED:
        assert (ROOT / f"{name}.py").is_file(), f"{name}.py must stay at the top level (the design card)"
    extra = TOP_LEVEL - set(REQUIRED) - set(COMMANDS)
    assert extra == set(), f"top-level modules that belong in a layer of snake_mc/: {sorted(extra)}"


def violations(path: Path, root: Path = ROOT, top_level: set[str] = TOP_LEVEL) -> list[str]:
    """Every import in the package module `path` of a top-level file or of a layer above the module's own."""
    own = path.relative_to(root / "snake_mc").parts[0]
    rank = LAYERS.index(own) if own in LAYERS else -1  # snake_mc/__init__.py sits below every layer
    wrong = []
    for line, module in imported_modules(path, root):
        head = module.split(".")[0]
        if head in top_level:
            wrong.append(f"line {line} imports the top-level {head}.py")
        layer = layer_of(module)
        if layer is not None and LAYERS.index(layer) > rank:
            wrong.append(f"line {line} imports {module}, in the {layer} layer above {own}")
    return sorted(set(wrong))


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_package_module_imports_a_top_level_file_or_a_layer_above_its_own(path):
    assert violations(path) == [], f"{path.relative_to(ROOT)}: " + "; ".join(violations(path))


def test_the_checker_sees_every_kind_of_forbidden_import(tmp_path):
    """The rule itself can fail: a lazy import of a top-level file, and a higher layer named absolutely and relatively."""
    (tmp_path / "snake_mc" / "game").mkdir(parents=True)
    module = tmp_path / "snake_mc" / "game" / "bad.py"
    module.write_text(
        "from snake_mc.common import constants\nfrom . import rules\n\n\ndef f():\n    import policy\n"
        "    from snake_mc.run.config import TrainConfig\n    from ..learn import network\n"
    )
    found = violations(module, tmp_path, {"policy"})
    assert sorted({w.split(" imports ")[0] for w in found}) == ["line 6", "line 7", "line 8"], found


def test_the_faces_name_the_public_api():
    import env
    from evaluate import evaluate_policy
    from mc_search import monte_carlo_action, monte_carlo_actions
    from policy import load_policy, save_policy
    from snake_mc.game.rules import SnakeBatch, SnakeEnv
    from snake_mc.learn import network
    from snake_mc.search import evaluation, rollouts

    assert env.SnakeBatch is SnakeBatch and env.SnakeEnv is SnakeEnv
    assert load_policy is network.load_policy and save_policy is network.save_policy
    assert evaluate_policy is evaluation.evaluate_policy
    assert monte_carlo_action is rollouts.monte_carlo_action and monte_carlo_actions is rollouts.monte_carlo_actions


MAX_FUNCTION_LINES = 60


def test_no_function_in_the_package_the_commands_or_the_benchmarks_is_longer_than_60_lines():
    """Every function and method (nested ones too), from its `def` to its last line, in snake_mc/, the top-level
    files, bench/ and scripts/, read from the syntax tree: a long function is split into named steps, not let grow."""
    files = sorted([*PACKAGE.rglob("*.py"), *ROOT.glob("*.py"), *(ROOT / "bench").glob("*.py"),
                    *(ROOT / "scripts").glob("*.py")])
    assert len(files) > 30 and any(f.parent.name == "bench" for f in files) and any(f.name == "iterative_train.py" for f in files)
    long = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} has {lines} lines")
    assert not long, "; ".join(long)


def test_the_driver_is_the_story_on_a_few_screens_and_the_run_lives_in_its_layer():
    """iterative_train.py holds the loop and how a run starts and stops (issue 26: at most 300 lines); beginning,
    the phases, the judgement and the ending are in snake_mc/run/, and the loop calls each phase once."""
    driver = (ROOT / "iterative_train.py").read_text()
    assert len(driver.splitlines()) <= 300
    imported = {name for _, name in imported_modules(ROOT / "iterative_train.py")}
    for phase in ("begin.begin_run", "phases.make_data", "phases.train", "judging.judge", "judging.commit_iteration",
                  "ending.finish"):
        assert f"snake_mc.run.{phase}" in imported, phase
    loop = next(node for node in ast.walk(ast.parse(driver)) if isinstance(node, ast.For))
    assert loop.end_lineno - loop.lineno + 1 <= 15, "the loop on one screen"


def test_the_encoder_imports_the_rules_and_the_tours_geometry_never_a_player():
    """Facts, not answers (issue 24): what the network sees may not come from a player's rule, so the encoder may not
    import the scripted player (nor the search, above it); the tour's geometry and its facts are in tour.py."""
    imported = {module for _, module in imported_modules(PACKAGE / "game" / "observation.py")}
    assert not any(m.startswith(("snake_mc.game.scripted", "snake_mc.search", "snake_mc.learn")) for m in imported), imported
    tour = {module for _, module in imported_modules(PACKAGE / "game" / "tour.py")}
    assert not any(m.startswith("snake_mc.game.scripted") for m in tour), "tour.py holds facts; the player imports it"


def test_the_search_keeps_no_state_of_its_own_between_calls():
    """Issue 26: a module-global plan book (detours.PLANS) made an answer depend on earlier calls. The search's
    modules may hold constants and the threads it reuses, nothing else: what lasts from call to call (a PlanBook)
    is made by the caller and passed in."""
    allowed = {("rollouts.py", "_THREAD_POOLS")}  # idle threads, reused: no answer depends on them
    state = []
    for path in sorted((PACKAGE / "search").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict | ast.List | ast.Set | ast.Call):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for name in (t.id for t in targets if isinstance(t, ast.Name)):
                    immutable = ("np.uint64", "re.compile", "ProofSettings")
                    constant = isinstance(node.value, ast.Call) and ast.unparse(node.value.func) in immutable
                    if not constant and (path.name, name) not in allowed and not name.isupper():
                        state.append(f"{path.name}: {name}")
                    if name.isupper() and isinstance(node.value, ast.Call) and not constant:
                        state.append(f"{path.name}: {name} = {ast.unparse(node.value)[:40]}")
    assert not state, state


def test_narration_reaches_the_code_one_way_as_a_parameter_never_a_process_wide_narrator():
    """Issue 26: a process-global fallback (narrate.set_narrator) made what a function said depend on who had set it.
    Now a narrator is passed in, or the caller gets a console-only one of its own (narrate.given_or_console)."""
    from snake_mc.speech import narrate

    assert not hasattr(narrate, "set_narrator") and not hasattr(narrate, "get_narrator")
    for path in sorted([*PACKAGE.rglob("*.py"), *ROOT.glob("*.py")]):
        for node in ast.parse(path.read_text()).body:
            value = getattr(node, "value", None)
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(value, ast.Call):
                assert "Narrator" not in ast.unparse(value.func), f"{path.name}: a module-level narrator"
