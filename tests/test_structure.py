"""The architecture as a test: layers import downwards only, no import cycle, and no family
name is compared outside that family's home (`mamlgame/families/`)."""

import ast
from pathlib import Path

from mamlgame.families import BUILTIN

ROOT = Path(__file__).resolve().parents[1] / "mamlgame"
CORE = ("mamlgame.rollout", "mamlgame.meta", "mamlgame.policy", "mamlgame.returns",
        "mamlgame.shard", "mamlgame.train", "mamlgame.evaluate", "mamlgame.checkpoint",
        "mamlgame.config", "mamlgame.bench", "mamlgame.compare", "mamlgame.distributed",
        "mamlgame.plot", "mamlgame.score_baseline", "mamlgame.run_dir", "mamlgame.resume",
        "mamlgame.progress", "mamlgame.stats", "mamlgame.compare_report", "mamlgame.memory",
        "mamlgame.tensorboard_log")
# module prefix -> prefixes it must not import (at module level or inside functions)
FORBIDDEN = {
    # packs read `mamlgame.config` (a stdlib-only leaf) for the [train] recipe's keys
    "mamlgame.packs": ("mamlgame.families", "mamlgame.render", "mamlgame.viewer",
                       "mamlgame.cli", "mamlgame.envs",
                       *(m for m in CORE if m != "mamlgame.config")),
    "mamlgame.render": ("mamlgame.families", "mamlgame.packs", "mamlgame.viewer",
                        "mamlgame.cli", "mamlgame.envs", *CORE),
    "mamlgame.families": ("mamlgame.viewer", "mamlgame.cli", "mamlgame.envs", *CORE),
    **{m: ("mamlgame.viewer", "mamlgame.cli") for m in CORE},
    "mamlgame.viewer": ("mamlgame.cli",),
    # the viewer runs through the envs (versus); the envs' human window is their own
    "mamlgame.envs": ("mamlgame.viewer", "mamlgame.cli"),
}


def modules() -> dict[str, ast.Module]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(), str(path))
    return out


def imported(name: str, tree: ast.Module, known: set[str], top_level: bool) -> set[str]:
    """mamlgame modules `name` imports (module-level statements only with `top_level`)."""
    package = name if (ROOT.parent / name.replace(".", "/") / "__init__.py").exists() else \
        name.rpartition(".")[0]
    nodes = tree.body if top_level else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            subs = {f"{base}.{a.name}" for a in node.names}
            found |= subs if subs <= known else subs | {base}  # `from pkg import module`
    return {m for m in found if m in known}


def test_layers_import_downwards_only():
    mods = modules()
    bad = []
    for name, tree in mods.items():
        for prefix, forbidden in FORBIDDEN.items():
            if name == prefix or name.startswith(prefix + "."):
                for dep in imported(name, tree, set(mods), top_level=False):
                    if any(dep == f or dep.startswith(f + ".") for f in forbidden):
                        bad.append(f"{name} imports {dep}")
    assert not bad, bad


def test_no_import_cycle():
    mods = modules()
    graph = {n: imported(n, t, set(mods), top_level=True) - {n} for n, t in mods.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_no_family_name_is_compared_outside_its_home():
    names = set(BUILTIN)
    bad = []
    for path in ROOT.rglob("*.py"):
        if (ROOT / "families") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                consts = [c for c in [node.left, *node.comparators] if isinstance(c, ast.Constant)]
                consts += [e for c in node.comparators if isinstance(c, (ast.Tuple, ast.List,
                                                                          ast.Set))
                           for e in c.elts if isinstance(e, ast.Constant)]
                if any(c.value in names for c in consts):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, bad


def test_the_core_knows_no_family():
    """The core imports no family's home and reads no family attribute outside the
    `TaskFamily` protocol by `getattr`: a family's own parts (the game's policy head) come
    through its `FamilySpec`."""
    mods = modules()
    homes = tuple(f"mamlgame.families.{name}" for name in BUILTIN)
    bad = []
    for name in CORE:
        tree = mods[name]
        bad += [f"{name} imports {dep}" for dep in imported(name, tree, set(mods), False)
                if dep.startswith(homes)]
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") in
                    ("getattr", "hasattr") and node.args and "famil" in ast.unparse(node.args[0])):
                bad.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert not bad, bad
