"""What this round's speed changes buy on the `mamlgame bench` workload (one thread):

1. single products on the loss-pass shapes: the action head's weight gradient in torch's
   orientation (x^T g)^T against g^T x, and `baddbmm` against a product plus an in-place add;
2. the loss-pass paths of `MLPPolicy.apply_params` on and off, alternating iteration by
   iteration in one process (so machine drift hits both alike);
3. page faults and system time per iteration with and without `cpu.configure`'s allocator
   settings (each in a fresh process: the settings cannot be undone).

Usage: python benchmarks/iteration_costs.py [ITERATIONS]
"""

import resource
import subprocess
import sys
import time

import torch

import mamlgame.policy as policy_module
from mamlgame import cpu
from mamlgame.families import make_family
from mamlgame.meta import MetaLearner
from mamlgame.packs import load_pack
from mamlgame.policy import make_policy, params_of


def ms(f, n: int = 30) -> float:
    f()
    t = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t) / n * 1e3


def iteration(algo: str):
    """A closure running one meta-iteration of the bench workload."""
    pack = load_pack("navigation")
    family = make_family(pack)
    torch.manual_seed(0)
    policy = make_policy(family)
    learner = MetaLearner(policy, family, algo, episodes=20, estimator="dice")
    params = params_of(policy)
    opt = torch.optim.Adam(learner.meta_parameters(params), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    pool = pack.pool("train")

    def run():
        loss, _ = learner.meta_loss(params, pool.select(torch.randint(len(pool), (20,),
                                                                      generator=gen)), gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return run


def faults(n: int) -> tuple[float, float]:
    """Minor page faults and system seconds per maml iteration in this process."""
    run = iteration("maml")
    run()
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(n):
        run()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_minflt - before.ru_minflt) / n, (after.ru_stime - before.ru_stime) / n


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--faults":
    torch.set_num_threads(1)
    if sys.argv[2] == "tuned":
        cpu.configure(1)
    print(*faults(int(sys.argv[3])))
    sys.exit()

n = int(sys.argv[1]) if len(sys.argv) > 1 else 15
cpu.configure(1)
x, g = torch.randn(20, 2000, 100), torch.randn(20, 2000, 2)
print("1. products on the loss-pass shapes (ms)")
print(f"   action-head weight gradient: (x^T g)^T {ms(lambda: torch.bmm(x.transpose(1, 2), g)):.2f}"
      f", g^T x {ms(lambda: torch.bmm(g.transpose(1, 2), x)):.2f}")
w, b = torch.randn(100, 100).expand(20, 100, 100), torch.randn(100).expand(20, 100)
print(f"   100x100 layer: baddbmm {ms(lambda: torch.baddbmm(b.unsqueeze(1), x, w.mT)):.2f}, "
      f"bmm + add_ {ms(lambda: torch.bmm(x, w.mT).add_(b.unsqueeze(1))):.2f}")

print("2. seconds per iteration, loss-pass paths off / on (median, alternating)")
for algo in ("maml", "fomaml"):
    run, times = iteration(algo), {False: [], True: []}
    run()
    for k in range(2 * n):
        on = bool(k % 2)
        policy_module._LOSS_ROWS = 1024 if on else 1 << 30  # off: baddbmm everywhere
        t = time.perf_counter()
        run()
        times[on].append(time.perf_counter() - t)
    med = {on: sorted(v)[len(v) // 2] for on, v in times.items()}
    print(f"   {algo:7s} off {med[False]:.3f}  on {med[True]:.3f}")
policy_module._LOSS_ROWS = 1024

print("3. per maml iteration: minor page faults, system seconds")
for mode in ("default", "tuned"):
    out = subprocess.run([sys.executable, __file__, "--faults", mode, str(n)], check=True,
                         capture_output=True, text=True).stdout.split()
    print(f"   {mode:8s} allocator: {float(out[0]):7.0f} faults, {float(out[1]):.3f} s")
