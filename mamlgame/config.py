"""`TrainConfig`: every setting of a meta-training run, saved inside each checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from mamlgame.meta import default_inner_steps

if TYPE_CHECKING:
    from mamlgame.packs import LevelPack


@dataclass(frozen=True)
class TrainConfig:
    pack: str = "mixed"  # level pack: a path or a shipped pack name
    algo: str = "maml"  # maml | fomaml | reptile | metasgd | pretrain
    estimator: str = "lvc"  # second-order estimator: lvc | dice (unbiased) | naive
    iterations: int = 100  # meta-iterations
    meta_batch: int = 20  # tasks per meta-iteration
    episodes: int = 20  # episodes per task for each inner step and for the outer loss
    inner_steps: int = 0  # K inner policy-gradient steps; 0: 3 for reptile, else 1
    inner_lr: float = 0.1  # inner step size alpha (Meta-SGD: its initial value)
    outer_lr: float = 0.003  # Adam learning rate of the meta-update
    anneal_lr: bool = True  # decay the outer learning rate linearly to 0 over the iterations
    gamma: float = 0.99  # discount of the policy-gradient returns
    gae_lambda: float = 1.0  # GAE lambda on the linear baseline (1: returns minus baseline)
    hidden: tuple[int, ...] = (100, 100)  # policy MLP hidden sizes
    activation: str = "relu"  # relu | tanh (relu is much faster on CPU)
    init_std: float = 1.0  # initial standard deviation of the Gaussian policy
    baseline: bool = True  # linear feature baseline for advantages
    normalize: bool = True  # normalise advantages per task
    horizon: int = 0  # steps per episode; 0 = the pack's horizon
    seed: int = 0  # seeds policy init, task sampling and rollouts
    threads: int = 1  # torch CPU threads
    device: str = "cpu"  # cpu | cuda | auto
    checkpoint_every: int = 10  # iterations between checkpoints
    keep_checkpoints: int = 3  # numbered checkpoints kept besides checkpoint.pt

    def resolved(self, pack: LevelPack) -> TrainConfig:
        """This config with its sentinels replaced by what they stand for: `inner_steps=0` by
        the algorithm's default, `horizon=0` by the pack's horizon. Training resolves once and
        saves the result; resolving a resolved config changes nothing."""
        return replace(self, inner_steps=default_inner_steps(self.algo, self.inner_steps),
                       horizon=self.horizon or pack.horizon)

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
