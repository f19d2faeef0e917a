"""Train several methods (algorithms, or option sets such as estimators) over several training
seeds with one budget, evaluate every run on the same held-out tasks, and report aggregates
with stratified-bootstrap intervals (`mamlgame.compare_report`, `mamlgame.stats`).

A comparison lives in one folder: `OUT/METHOD/seed-S/` is a run directory (`checkpoint.pt`,
`metrics.jsonl`, and `scores.json`, the run's returns and success rates per held-out task after
each number of inner steps); `OUT/compare.json`, `compare.md` and `compare.png` hold the
report. `resume` continues a comparison from the runs on disk: a finished run is reused (and
re-evaluated only when the evaluation settings changed), an interrupted one continues from its
checkpoint; a run trained with other settings is refused. Trainings run `jobs` at a time, each
in its own process with `threads` torch threads.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from mamlgame import cpu
from mamlgame.checkpoint import Checkpoint, atomic_write_bytes, load_agent, load_newest_good
from mamlgame.compare_report import format_comparison, plot_comparison, summarize
from mamlgame.config import TrainConfig
from mamlgame.errors import CheckpointError, MamlgameError
from mamlgame.families import family_spec, make_family
from mamlgame.memory import check_evaluation
from mamlgame.packs import LevelPack, load_pack
from mamlgame.rollout import rollout
from mamlgame.run_dir import LOCK_NAME, run_files
from mamlgame.stats import REPS
from mamlgame.train import Interrupted, train

SCORES = "scores.json"  # a run's per-task scores, in its run directory
# settings a run may differ in and still belong to the comparison (they change no result)
RUNTIME_KEYS = ("threads", "device", "checkpoint_every", "keep_checkpoints", "tensorboard")

__all__ = ["CompareSpec", "Method", "check_compare_dir", "compare", "format_comparison",
           "methods_of", "run_scores"]


@dataclass(frozen=True)
class Method:
    """One compared method: a name (its folder in the comparison) and the settings it changes
    in the base config (`{"algo": "maml", "estimator": "dice"}`)."""

    name: str
    settings: dict[str, Any]


def methods_of(algos: Sequence[str], estimators: Sequence[str] = ()) -> tuple[Method, ...]:
    """One method per algorithm, or per algorithm and estimator when `estimators` are given;
    a name holds the parts that vary (`maml`, `dice`, `maml-dice`)."""
    combos = [({"algo": a, "estimator": e} if estimators else {"algo": a})
              for a in algos for e in (estimators or [None])]
    vary = [k for k in ("algo", "estimator") if len({str(c.get(k)) for c in combos}) > 1]
    return tuple(Method("-".join(str(c[k]) for k in vary) or c["algo"], c) for c in combos)


@dataclass(frozen=True)
class CompareSpec:
    """What a comparison trains and how it evaluates and reports it."""

    base: TrainConfig  # every setting the methods share (its seed: the first training seed)
    methods: tuple[Method, ...]
    seeds: int = 1  # training seeds per method: base.seed, base.seed + 1, ...
    eval_tasks: int = 40  # the first N tasks of the test split (every run the same ones)
    steps: tuple[int, ...] = (0, 1)  # inner steps after which returns are measured
    eval_episodes: int = 0  # episodes per inner step in the evaluation (0: base.episodes)
    reps: int = REPS  # bootstrap resamples
    target: float | None = None  # return that solves a task (None: the best any run reached)
    split: str = field(default="test")

    def seed_list(self) -> list[int]:
        return [self.base.seed + i for i in range(self.seeds)]

    def config(self, method: Method, seed: int) -> TrainConfig:
        """The config one run trains with."""
        return TrainConfig.from_dict({**self.base.to_dict(), **method.settings, "seed": seed})

    def evaluation(self) -> dict[str, Any]:
        """The evaluation settings (a run's cached scores are reused only under the same)."""
        return {"split": self.split, "tasks": self.eval_tasks, "steps": sorted(set(self.steps)),
                "episodes": self.eval_episodes or self.base.episodes, "seed": self.base.seed}


def run_dir(out: Path, method: Method, seed: int) -> Path:
    return Path(out) / method.name / f"seed-{seed}"


# ---- the comparison folder -------------------------------------------------------------------
def check_compare_dir(out: Path, names: Iterable[str], resume: bool = False,
                      overwrite: bool = False) -> None:
    """Refuse an `out` holding an earlier comparison's runs of `names` unless `resume`
    (continue it) or `overwrite` (replace them)."""
    if resume and overwrite:
        raise MamlgameError("--resume and --overwrite: choose one (continue the comparison in "
                            "--out, or replace its runs)")
    out = Path(out)
    held = [n for n in names if (out / n).is_dir()
            and any(p.name != LOCK_NAME for p in (out / n).iterdir())]
    if held and not (resume or overwrite):
        raise MamlgameError(f"--out {out}: holds runs of an earlier comparison "
                            f"({', '.join(f'{n}/' for n in held)}); continue it with --resume, "
                            "replace them with --overwrite, or choose another --out")


def check_run(ck: Checkpoint, cfg: TrainConfig, pack: LevelPack, where: str) -> None:
    """Refuse a run on disk whose settings differ from `cfg` (all but `RUNTIME_KEYS`)."""
    saved_pack = ck.pack()
    if saved_pack.name != pack.name or saved_pack.text != pack.text:
        diffs = [f"PACK {pack.path} (the run's: {saved_pack.name}"
                 + (")" if saved_pack.name != pack.name else ", changed since)")]
    else:
        saved, new = ck.config.resolved(pack), cfg.resolved(pack)
        diffs = [f"{k} {_text(getattr(new, k))} (the run's: {_text(getattr(saved, k))})"
                 for k in (f.name for f in fields(TrainConfig))
                 if k not in ("pack", *RUNTIME_KEYS) and getattr(new, k) != getattr(saved, k)]
    if diffs:
        raise MamlgameError(f"--resume: run {where} was trained with other settings: "
                            f"{'; '.join(diffs)}; give the options it was trained with, or "
                            "start over with --overwrite or another --out")


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _saved_run(folder: Path) -> Checkpoint | None:
    """The newest good checkpoint of the run in `folder`, or None when it has none."""
    ckpt = folder / "checkpoint.pt"
    if not any(p.name.startswith("checkpoint") for p in run_files(folder)):
        return None
    try:
        return load_newest_good(ckpt)[0]
    except CheckpointError:
        return None  # nothing readable: the run starts over


def _cached_scores(folder: Path, iteration: int, evaluation: dict[str, Any]
                   ) -> dict[str, Any] | None:
    try:
        scores = json.loads((folder / SCORES).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(scores, dict) and scores.get("iteration") == iteration \
        and scores.get("eval") == evaluation
    return scores if ok else None


# ---- one run: train (or continue), then evaluate -------------------------------------------
@dataclass(frozen=True)
class RunJob:
    """What one worker does: train the run in `folder` (`mode`: fresh, resume or done), then
    evaluate it."""

    method: str
    seed: int
    config: dict[str, Any]
    folder: str
    mode: str
    evaluation: dict[str, Any]
    in_worker: bool = False  # a process of its own: set its thread count
    progress: bool = False


def run_scores(ckpt: str | Path, evaluation: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's return (and success rate, where the family has one) on each of the
    first `tasks` tasks of `split` after each number of inner `steps`: the episodes drawn with
    the k-step params are measured, then used for the next step (as `mamlgame eval` with the
    same --tasks, --steps, --episodes and --seed measures them)."""
    agent = load_agent(ckpt)
    pool = len(agent.pack.pool(evaluation["split"]))
    tasks = agent.pack.tasks(evaluation["split"], min(evaluation["tasks"], pool))
    steps, episodes = evaluation["steps"], evaluation["episodes"]
    gen = torch.Generator().manual_seed(evaluation["seed"])
    ad = agent.learner(episodes=episodes).adapt(agent.params, tasks, gen, steps=max(steps))
    eps = ad.episodes + [rollout(agent.family, tasks, agent.policy, ad.params, episodes, gen)]
    scores: dict[str, Any] = {
        "task_ids": list(tasks.ids),
        "returns": {str(k): [round(x, 4) for x in eps[k].total_reward.mean(1).tolist()]
                    for k in steps}}
    if family_spec(agent.pack.family).has_success:
        scores["success"] = {str(k): [round(x, 4) for x in eps[k].success.float().mean(1)
                                      .tolist()] for k in steps}
    return scores


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A worker's warnings as the command's: one line `warning: ...`."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


@functools.cache
def _warm_up() -> None:
    """Pay the process's one-time costs before a run's clock starts (torch imports its
    compiler, ~3 s, when the first optimiser is built): every run's time is then its own."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def _run(job: RunJob) -> dict[str, Any]:
    """Train `job`'s run as its mode says, evaluate it and write its `scores.json`."""
    if job.in_worker:
        cpu.configure(job.config["threads"])
        warnings.showwarning = _warning_line
    _warm_up()
    folder = Path(job.folder)
    cfg = TrainConfig.from_dict(job.config)
    trained = job.mode != "done"
    if job.mode == "fresh":
        (folder / SCORES).unlink(missing_ok=True)
    if trained:
        train(cfg, folder, resume=job.mode == "resume", progress=job.progress,
              overwrite=job.mode == "fresh")
    ck = load_newest_good(folder / "checkpoint.pt")[0]
    scores = {"method": job.method, "seed": job.seed, "iteration": ck.iteration,
              "train_seconds": round(ck.elapsed, 2), "eval": job.evaluation,
              **run_scores(folder / "checkpoint.pt", job.evaluation)}
    atomic_write_bytes(folder / SCORES, lambda f: f.write(json.dumps(scores).encode()))
    return {**scores, "trained": trained}


def _plan(spec: CompareSpec, out: Path, pack: LevelPack, resume: bool, overwrite: bool,
          progress: bool, in_worker: bool) -> tuple[list[RunJob], dict[tuple[str, int], Any]]:
    """The runs to train or evaluate, and the scores of those already done (resume)."""
    todo, done = [], {}
    evaluation = spec.evaluation()
    for method in spec.methods:
        for seed in spec.seed_list():
            cfg, folder = spec.config(method, seed), run_dir(out, method, seed)
            ck = None if overwrite else _saved_run(folder)
            mode = "fresh"
            if ck is not None:
                check_run(ck, cfg, pack, f"{method.name}/seed-{seed}")
                mode = "resume" if ck.iteration < cfg.iterations else "done"
            if mode == "done" and (cached := _cached_scores(folder, ck.iteration, evaluation)):
                done[method.name, seed] = cached
                continue
            todo.append(RunJob(method.name, seed, cfg.to_dict(), str(folder), mode, evaluation,
                               in_worker, progress))
    return todo, done


def _line(job: RunJob, scores: dict[str, Any], i: int, n: int) -> str:
    k = str(max(job.evaluation["steps"]))
    mean = sum(scores["returns"][k]) / len(scores["returns"][k])
    what = (f"{scores['iteration']} iterations in {scores['train_seconds']:.1f} s"
            if scores["trained"] else "evaluated")
    steps = f"{k} step{'' if k == '1' else 's'}"
    return f"[{i}/{n}] {job.method} seed {job.seed}: {what}; return after {steps} {mean:.2f}"


def _ignore_ctrl_c() -> None:
    """A worker leaves Ctrl-C to its run (`train` saves a checkpoint on it, then stops) and
    to the main process, which stops handing out runs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_all(todo: list[RunJob], jobs: int, echo: Callable[[str], None]
             ) -> dict[tuple[str, int], Any]:
    """Run `todo`, `jobs` at a time (in worker processes when more than one). A run is handed
    out only when a worker is free, so that after Ctrl-C (or a run's error) no new run
    starts: the runs in progress save their checkpoints and end, then one error says so."""
    results: dict[tuple[str, int], Any] = {}
    if jobs == 1 or len(todo) <= 1:
        for i, job in enumerate(todo, 1):
            results[job.method, job.seed] = scores = _run(replace(job, in_worker=False))
            echo(_line(job, scores, i, len(todo)))
        return results
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    queue, stop = list(todo), None
    with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=ctx,
                             initializer=_ignore_ctrl_c) as pool:
        running: dict[Future, RunJob] = {}
        while running or (queue and stop is None):
            while queue and stop is None and len(running) < jobs:
                job = queue.pop(0)
                running[pool.submit(_run, job)] = job
            try:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:  # the workers' runs got it too: wait for their ends
                stop = stop or Interrupted("")
                continue
            for fut in finished:
                job = running.pop(fut)
                try:
                    results[job.method, job.seed] = scores = fut.result()
                except Exception as e:  # raised below, once the runs in progress end
                    stop = e if stop is None or isinstance(stop, Interrupted) else stop
                    continue
                echo(_line(job, scores, len(results), len(todo)))
    if isinstance(stop, Interrupted):
        raise MamlgameError(f"interrupted after {len(results)} of {len(todo)} runs; the "
                            "finished runs and the checkpoints of the others are kept in "
                            "--out (continue with --resume)")
    if stop is not None:
        raise stop
    return results


def compare(spec: CompareSpec, out_dir: str | Path, jobs: int = 1, progress: bool = True,
            resume: bool = False, overwrite: bool = False,
            echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train every method of `spec` over its seeds (`jobs` trainings at a time), evaluate
    each run on the same held-out tasks, and write `compare.json`, `compare.md` and
    `compare.png` into `out_dir`. An earlier comparison's runs there are refused unless
    `resume` (reuse them; a run trained with other settings is refused) or `overwrite`.
    With `jobs` == 1 the runs train in this process (its thread settings are the caller's,
    see `mamlgame.cpu`); else each in a process of its own with `spec.base.threads`."""
    out = Path(out_dir)
    echo = echo or (lambda line: None)
    check_compare_dir(out, [m.name for m in spec.methods], resume, overwrite)
    pack = load_pack(spec.base.pack)
    size = len(pack.pool(spec.split))
    if spec.eval_tasks > size:
        warnings.warn(f"--eval-tasks {spec.eval_tasks}: the {spec.split} split of {pack.name} "
                      f"has {size} tasks; evaluating each of them once", stacklevel=2)
    _check_evaluation_memory(spec, pack, min(spec.eval_tasks, size))
    todo, done = _plan(spec, out, pack, resume, overwrite, progress and jobs == 1, jobs > 1)
    if done:
        echo(f"reusing {len(done)} finished run(s) in {out}; {len(todo)} to run")
    t0 = time.perf_counter()
    results = {**done, **_run_all(todo, jobs, echo)}
    runs = {m.name: [results[m.name, s] for s in spec.seed_list()] for m in spec.methods}
    result = summarize(spec_info(spec, pack, jobs, time.perf_counter() - t0), runs)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "compare.json", lambda f: f.write(json.dumps(result, indent=1)
                                                               .encode()))
    atomic_write_bytes(out / "compare.md", lambda f: f.write(format_comparison(result).encode()))
    plot_comparison(result, out / "compare.png")
    return result


def _check_evaluation_memory(spec: CompareSpec, pack: LevelPack, n_tasks: int) -> None:
    """Before any training: a clear error when a method's evaluation cannot fit in memory."""
    episodes, steps = spec.evaluation()["episodes"], max(spec.steps)
    for method in spec.methods:
        cfg = spec.config(method, spec.base.seed).resolved(pack)
        family = make_family(pack, cfg.horizon)
        check_evaluation(cfg, n_tasks, episodes, steps, family.obs_dim, family.action_dim)


def spec_info(spec: CompareSpec, pack: LevelPack, jobs: int, seconds: float) -> dict[str, Any]:
    """The comparison's settings as `compare.json` records them."""
    b = spec.base
    return {"pack": pack.name, "split": spec.split, "iterations": b.iterations,
            "meta_batch": b.meta_batch, "episodes": b.episodes,
            "methods": {m.name: m.settings for m in spec.methods},
            "seeds": spec.seed_list(), "eval_tasks": min(spec.eval_tasks,
                                                         len(pack.pool(spec.split))),
            "eval_episodes": spec.evaluation()["episodes"], "eval_seed": b.seed,
            "steps": sorted(set(spec.steps)), "reps": spec.reps, "target": spec.target,
            "jobs": jobs, "threads": b.threads, "cpus": os.cpu_count(),
            "seconds": round(seconds, 1)}
