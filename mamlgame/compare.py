"""Train several meta-learners with the same seed and budget; compare time and adaptation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mamlgame.checkpoint import atomic_write_bytes, load_agent
from mamlgame.config import TrainConfig
from mamlgame.errors import MamlgameError
from mamlgame.evaluate import evaluate, write_json
from mamlgame.families import family_spec
from mamlgame.plot import pyplot, save_png
from mamlgame.run_dir import LOCK_NAME
from mamlgame.train import train


def check_compare_dir(out: Path, algos: list[str], overwrite: bool = False) -> None:
    """Refuse an `out` holding an earlier comparison's runs of `algos` unless `overwrite`."""
    held = [a for a in algos if (out / a).is_dir()
            and any(p.name != LOCK_NAME for p in (out / a).iterdir())]
    if held and not overwrite:
        raise MamlgameError(f"--out {out}: holds runs of an earlier comparison "
                            f"({', '.join(f'{a}/' for a in held)}); replace them with "
                            "--overwrite, or choose another --out")


def compare(base: TrainConfig, algos: list[str], out_dir: str | Path, eval_tasks: int = 40,
            eval_steps: list[int] | None = None, progress: bool = True,
            overwrite: bool = False) -> dict[str, Any]:
    """Train each algo with `base`'s settings, evaluate on the test split after each number
    of inner steps in `eval_steps` (default 0 and 1), write `compare.json`, `compare.md` and
    `compare.png` into `out_dir` (one run folder per algo; an earlier comparison's are
    refused unless `overwrite`). Families whose episodes can reach a goal add success rates."""
    out = Path(out_dir)
    check_compare_dir(out, algos, overwrite)
    steps = sorted(set(eval_steps or [0, 1]))
    rows: list[dict[str, Any]] = []
    for algo in algos:
        cfg = TrainConfig.from_dict({**base.to_dict(), "algo": algo})
        t0 = time.perf_counter()
        ckpt = train(cfg, out / algo, progress=progress, overwrite=overwrite)
        seconds = time.perf_counter() - t0
        agent = load_agent(ckpt)
        report = evaluate(agent, n_tasks=eval_tasks, steps=steps, seed=base.seed)
        rows.append({"algo": algo, "train_seconds": round(seconds, 2),
                     "seconds_per_iteration": round(seconds / cfg.iterations, 4),
                     "returns": {k: v["mean"] for k, v in report["returns"].items()},
                     "se": {k: v["se"] for k, v in report["returns"].items()}})
        if family_spec(agent.pack.family).has_success:
            rows[-1].update(success=report["success"], success_se=report["success_se"])
    result = {"pack": base.pack, "iterations": base.iterations, "meta_batch": base.meta_batch,
              "episodes": base.episodes, "seed": base.seed, "eval_tasks": eval_tasks,
              "steps": steps, "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    write_json(result, out / "compare.json")
    atomic_write_bytes(out / "compare.md", lambda f: f.write(format_comparison(result).encode()))
    _plot(result, out / "compare.png")
    return result


def format_comparison(result: dict[str, Any]) -> str:
    """A markdown table: training time, then return (and success rate, where the family
    has them) after each number of inner steps, per algo."""
    steps = list(result["rows"][0]["returns"])
    success = "success" in result["rows"][0]

    def plural(k: str) -> str:
        return f"{k} step{'' if k == '1' else 's'}"

    head = ["algo", "train s", "s/iter", *[f"return {plural(k)}" for k in steps]]
    head += [f"success {plural(k)}" for k in steps] if success else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        cells = [r["algo"], f"{r['train_seconds']:.1f}", f"{r['seconds_per_iteration']:.3f}",
                 *[f"{r['returns'][k]:.2f} ± {r['se'][k]:.2f}" for k in steps]]
        if success:
            cells += [f"{100 * r['success'][k]:.0f}% ± {100 * r['success_se'][k]:.0f}%"
                      for k in steps]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    rows = result["rows"]
    panels = [("returns", "se", "mean return")]
    if "success" in rows[0]:
        panels.append(("success", "success_se", "success rate"))
    fig, (ax1, *axes) = plt.subplots(1, 1 + len(panels), figsize=(5 * (1 + len(panels)), 4))
    ax1.bar([r["algo"] for r in rows], [r["seconds_per_iteration"] for r in rows],
            color="#4c72b0")
    ax1.set_ylabel("seconds per meta-iteration")
    ax1.set_title("meta-training cost")
    ks = [int(k) for k in rows[0]["returns"]]
    for ax, (key, se, label) in zip(axes, panels, strict=True):
        for r in rows:
            ax.errorbar(ks, list(r[key].values()), yerr=list(r[se].values()), marker="o",
                        capsize=3, label=r["algo"])
        ax.set_xticks(ks)
        ax.set_xlabel("inner steps on held-out tasks")
        ax.set_ylabel(label)
        ax.set_title(f"adaptation: {label}")
        ax.legend()
    fig.tight_layout()
    save_png(fig, path)
