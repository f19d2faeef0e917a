"""`TrainConfig`: every setting of a meta-training run, saved inside each checkpoint.

Each field is described once, by its `setting(...)` metadata: one doc line, its bounds or
choices, and whether it is a command-line option and a pack `[train]` key. The `train`
command derives its click options from it (`mamlgame.cli.options`) and the pack loader its
`[train]` keys (`mamlgame.packs.loader`), so this module is a stdlib-only leaf.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mamlgame.packs import LevelPack

ALGOS = ("maml", "fomaml", "reptile", "metasgd", "cavia", "pretrain")
CAVIA_CONTEXT = 8  # context inputs `cavia` gives the policy unless `context` says otherwise
# Reptile with one inner step is joint training (its update is the plain multi-task gradient)
DEFAULT_INNER_STEPS = {"reptile": 3}
ESTIMATORS = ("dice", "lvc", "naive")
# the run's length: one budget, given together or not at all (recipes, the command line, resume)
BUDGET_KEYS = frozenset({"iterations", "time_limit"})
# recipe settings tuned for the recipe's algo: they stay with it (a game recipe's inner lr
# 1000 would wreck maml), see `pack_recipe`
ALGO_KEYS = frozenset({"inner_lr", "inner_lr_decay", "inner_std_decay", "learn_std_shift",
                       "learn_inner_lr", "outer_lr", "inner_gamma", "inner_rewards", "context",
                       "table_radius"})
# algorithms that learn no first-step std shift (`learn_std_shift`): no meta-gradient reaches
# it (Reptile's update is theta - theta', a parameter-space direction; pretrain takes no step)
SHIFTLESS_ALGOS = ("reptile", "pretrain")
# algorithms that learn no step-size factor (`learn_inner_lr`): the same, and Meta-SGD, which
# learns every entry's step size itself
GAINLESS_ALGOS = (*SHIFTLESS_ALGOS, "metasgd")
SEED_MAX = 2**63 - 1  # seeds are 0..SEED_MAX (torch generators take 64 bits)
MAX_HORIZON = 100_000  # steps per episode (a pack's [pack] horizon has the same bound)
MAX_INNER_STEPS = 1000  # inner steps (the papers use 1 to 5)
MAX_ITERATIONS = 10**9  # meta-iterations of one run (the recipes use hundreds)
MAX_THREADS = 256  # torch threads of one process
MAX_LOOKAHEAD = 30  # steps an act-time lookahead looks ahead (`lookahead`)


def default_inner_steps(algo: str, inner_steps: int = 0) -> int:
    """`inner_steps`, or the algorithm's default when it is 0 (3 for reptile, else 1)."""
    return inner_steps or DEFAULT_INNER_STEPS.get(algo, 1)


def setting(default: Any, doc: str, *, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, choices: tuple[str, ...] = (), kind: str = "",
            option: bool = True, recipe: bool = True) -> Any:
    """A `TrainConfig` field with its description: `doc` (the `--help` line), `lo`/`hi`
    bounds (numbers; `lo_open`: values must exceed `lo`; floats are always finite) or
    `choices` (strings), `kind` when the default's type does not say it ("sizes",
    "duration"); `option`: a `train` command-line option; `recipe`: allowed in a pack's
    `[train]` section."""
    kind = kind or type(default).__name__
    return field(default=default, metadata={"doc": doc, "lo": lo, "hi": hi, "lo_open": lo_open,
                                            "choices": choices, "kind": kind, "option": option,
                                            "recipe": recipe})


@dataclass(frozen=True)
class Setting:
    """One `TrainConfig` field as described by its metadata."""

    name: str
    default: Any
    doc: str
    kind: str  # "int" | "float" | "bool" | "str" | "sizes" (tuple of ints) | "duration" (s)
    lo: float | None
    hi: float | None
    choices: tuple[str, ...]
    option: bool  # a `mamlgame train` option (--name-with-dashes)
    recipe: bool  # a key of a pack's [train] section
    lo_open: bool = False  # values must be > lo (not >=)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a meta-training run. Each field's `setting(...)` is its one
    description: the doc line `--help` shows, its bounds, and whether it is a command-line
    option and a pack `[train]` key."""

    pack: str = setting("mixed", "level pack: a path or a shipped pack name", kind="str",
                        option=False, recipe=False)
    algo: str = setting("maml", "meta-learning algorithm", choices=ALGOS)
    estimator: str = setting("lvc", "second-order meta-gradient estimator: lvc (low "
                             "variance, biased), dice (unbiased, high variance) or naive "
                             "(biased)", choices=ESTIMATORS)
    # with a time limit, iterations is a cap; 0 there: none (what `train --time-limit` uses
    # when no --iterations is given)
    iterations: int = setting(100, "meta-iterations (with a time limit: at most this many)",
                              lo=1, hi=MAX_ITERATIONS)
    time_limit: float = setting(0.0, "wall-clock budget: 90s, 20m, 1.5h or seconds; training "
                                "stops after the iteration that spends it (0: none)",
                                kind="duration", lo=0)
    meta_batch: int = setting(20, "tasks per meta-iteration", lo=1)
    episodes: int = setting(20, "episodes per task for each inner step and for the outer loss",
                            lo=1)
    inner_steps: int = setting(0, "inner policy-gradient steps K; 0: 3 for reptile, else 1",
                               lo=0, hi=MAX_INNER_STEPS)
    inner_lr: float = setting(0.1, "inner step size alpha (Meta-SGD: its initial value)",
                              lo=0)
    inner_lr_decay: float = setting(1.0, "inner step k (from 0) takes --inner-lr times this "
                                    "to the power k, in training and eval (1: one size)",
                                    lo=0, lo_open=True, hi=1)
    inner_std_decay: float = setting(1.0, "every inner step after the first also multiplies "
                                     "a Gaussian policy's std by this, in training and eval: "
                                     "later steps explore less (1: unchanged)",
                                     lo=0, lo_open=True, hi=1)
    learn_std_shift: bool = setting(False, "meta-learn a constant added to a Gaussian policy's "
                                    "log std at the first inner step (with the other "
                                    "meta-parameters, from 0): the adapted policy learns how "
                                    "much less to explore (not with reptile or pretrain)")
    learn_inner_lr: bool = setting(False, "meta-learn a factor on the inner step size (with "
                                   "the other meta-parameters, from 1): the step learns how "
                                   "far to move (not with reptile, pretrain or metasgd)")
    outer_lr: float = setting(0.003, "Adam learning rate of the meta-update", lo=0,
                              lo_open=True)
    anneal_lr: bool = setting(True, "decay the outer learning rate linearly to 0 over the "
                              "iterations (over the time limit when it comes first)")
    gamma: float = setting(0.99, "discount of the policy-gradient returns", lo=0, hi=1)
    inner_gamma: float = setting(-1.0, "discount of the inner step's returns (-1: --gamma; a "
                                 "short one credits each step's own reward)", lo=-1, hi=1)
    inner_rewards: str = setting("all", "the rewards the inner step's returns read: all, or "
                                 "goal: those that say where the goal is (a game's step, "
                                 "shaping and goal rewards; a catch or a hazard says nothing "
                                 "about it)", choices=("all", "goal"))
    gae_lambda: float = setting(1.0, "GAE lambda on the linear baseline (1: returns minus "
                                "baseline)", lo=0, hi=1)
    hidden: tuple[int, ...] = setting((100, 100), "policy MLP hidden sizes, comma separated",
                                      kind="sizes")
    activation: str = setting("relu", "hidden activation (relu is much faster on CPU)",
                              choices=("relu", "tanh"))
    context: int = setting(0, "context inputs of the policy, the only parameters --algo cavia "
                           f"adapts (0: none; {CAVIA_CONTEXT} with cavia)", lo=0, hi=4096)
    table_radius: int = setting(0, "cavia's tile table also writes onto the tiles this many "
                                "steps around the player's, through a meta-learned kernel "
                                "(0: the player's tile only)", lo=0, hi=3)
    lookahead: int = setting(0, "game agents act (eval, watch) by trying every action "
                             "followed by their policy's continuations this many steps deep, "
                             "favouring those their goal belief says reach the goal and "
                             "shunning those caught or on a hazard, and planning a way past "
                             "opponents to the tile the belief is sure of (training's own rollouts "
                             "sample the policy; 0: never)", lo=0, hi=MAX_LOOKAHEAD)
    init_std: float = setting(1.0, "initial standard deviation of the Gaussian policy",
                              lo=1e-3)
    baseline: bool = setting(True, "linear feature baseline for advantages", option=False)
    normalize: bool = setting(True, "normalise advantages per task", option=False)
    horizon: int = setting(0, "steps per episode; 0: the pack's horizon", lo=0,
                           hi=MAX_HORIZON)
    seed: int = setting(0, "seeds policy init, task sampling and rollouts", lo=0, hi=SEED_MAX)
    threads: int = setting(1, "torch CPU threads", lo=1, hi=MAX_THREADS, recipe=False)
    device: str = setting("cpu", "where training runs (auto: cuda when available)",
                          choices=("auto", "cpu", "cuda"), recipe=False)
    checkpoint_every: int = setting(10, "iterations between checkpoints", lo=1, recipe=False)
    keep_checkpoints: int = setting(3, "numbered checkpoints kept besides checkpoint.pt",
                                    lo=0, recipe=False)
    tensorboard: bool = setting(False, "also write the metrics as TensorBoard scalars into "
                                "OUT/tensorboard (needs pip install 'mamlgame[tensorboard]')",
                                recipe=False)

    def resolved(self, pack: LevelPack) -> TrainConfig:
        """This config with its sentinels replaced by what they stand for: `inner_steps=0` by
        the algorithm's default, `horizon=0` by the pack's horizon, `context=0` by cavia's
        context size, `inner_gamma=-1` by `gamma`; `learn_std_shift` and `learn_inner_lr`
        are off for the algorithms that learn none (`SHIFTLESS_ALGOS`, `GAINLESS_ALGOS`: a
        recipe's value does not apply to them). Training resolves once and saves the
        result; resolving a resolved config changes nothing."""
        context = self.context or (CAVIA_CONTEXT if self.algo == "cavia" else 0)
        return replace(self, inner_steps=default_inner_steps(self.algo, self.inner_steps),
                       horizon=self.horizon or pack.horizon, context=context,
                       inner_gamma=self.gamma if self.inner_gamma < 0 else self.inner_gamma,
                       learn_std_shift=self.learn_std_shift
                       and self.algo not in SHIFTLESS_ALGOS,
                       learn_inner_lr=self.learn_inner_lr and self.algo not in GAINLESS_ALGOS)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Rebuild from a checkpoint's dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if "hidden" in kw:
            kw["hidden"] = tuple(kw["hidden"])
        return cls(**kw)


def pack_recipe(recipe: dict[str, Any], given: Iterable[str], skip: Iterable[str] = (),
                algo: str | None = None) -> dict[str, Any]:
    """The values of a pack's `[train]` recipe a command uses: those whose option was not
    `given` on the command line, less `skip`. A given --iterations or --time-limit replaces
    both of the recipe's (the run's length is one budget). The recipe's step sizes and
    inner-loop settings (`ALGO_KEYS`) belong to its algo: they apply only when the command
    trains that algo (`algo`, or the recipe's own when --algo is not given); its
    `learn_std_shift` and `learn_inner_lr` not to an algo that learns none
    (`SHIFTLESS_ALGOS`, `GAINLESS_ALGOS`)."""
    drop = set(given) | set(skip)
    if set(given) & BUDGET_KEYS:
        drop |= BUDGET_KEYS
    own = recipe.get("algo")
    trains = algo if own is None or "algo" in set(given) else own
    if own is not None and trains != own:
        drop |= ALGO_KEYS
    if trains in SHIFTLESS_ALGOS:
        drop.add("learn_std_shift")
    if trains in GAINLESS_ALGOS:
        drop.add("learn_inner_lr")
    return {k: v for k, v in recipe.items() if k not in drop}


def with_recipe(cfg: TrainConfig, recipe: dict[str, Any], given: Iterable[str] | None = None
                ) -> tuple[TrainConfig, dict[str, Any]]:
    """`cfg` with a pack's `[train]` recipe applied as `mamlgame train` applies it: the
    settings not `given` (None: those left at their defaults) take the recipe's values
    (`pack_recipe`); a time limit with no iteration count from either bounds the run alone.
    Returns the config and the recipe values used. Applying it twice changes nothing."""
    defaults = TrainConfig()
    given = set(given) if given is not None else {
        f.name for f in fields(TrainConfig) if getattr(cfg, f.name) != getattr(defaults, f.name)}
    used = pack_recipe(recipe, given, algo=cfg.algo)
    cfg = replace(cfg, **used)
    if cfg.time_limit > 0 and "iterations" not in given | set(used):
        cfg = replace(cfg, iterations=0)  # the time limit alone bounds the run
    return cfg, used


def settings() -> list[Setting]:
    """Every `TrainConfig` field's description, in field order."""
    out = []
    for f in fields(TrainConfig):
        m = f.metadata
        default = f.default if f.default is not MISSING else None
        out.append(Setting(f.name, default, m["doc"], m["kind"], m["lo"], m["hi"],
                           m["choices"], m["option"], m["recipe"], m["lo_open"]))
    return out


SETTINGS = {s.name: s for s in settings()}

# ---- durations (--time-limit / [train] time_limit) ----------------------------------------
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART_RE = re.compile(rf"({_NUMBER})([hms])")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_FORM = 'a duration like "90s", "20m", "1.5h", "1h30m" or a number of seconds (>= 0)'


def parse_duration(value: str | float) -> float:
    """Seconds in `value`: `90s`, `20m`, `1.5h`, `1h30m`, or a plain number of seconds
    (>= 0). Raises `ValueError` naming the expected form."""
    seconds = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(_NUMBER, text):
            seconds = float(text)
        elif re.fullmatch(rf"(?:{_NUMBER}[hms])+", text):
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART_RE.findall(text))
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"expected {DURATION_FORM}, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """`seconds` as `1h20m`, `20m`, `1m30s`, `45s` or `2.5s` (what `parse_duration` reads;
    a minute or more is rounded to the second)."""
    if seconds < 60:
        return f"{seconds:.3g}s"
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s else ""]
    return "".join(parts)
