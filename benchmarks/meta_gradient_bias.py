"""How far each estimator's mean meta-gradient is from the exact gradient of the MAML-RL
objective on one-step bandits, with the default baselines and normalisation (in standard
errors; dice's estimates are rescaled by the carried advantage scale they were divided by;
lvc's and naive's after the best positive scaling, against their own inner rule).

Usage: python benchmarks/meta_gradient_bias.py [target,alpha,n,mu0,sigma0 ...]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch  # noqa: E402
from test_dice_defaults import SETTINGS, estimates, exact_gradient, z_scores  # noqa: E402

torch.set_num_threads(1)
settings = [tuple(float(x) for x in a.split(",")) for a in sys.argv[1:]] or SETTINGS
for target, alpha, n, mu0, sigma0 in settings:
    setting = (target, alpha, int(n), mu0, sigma0)
    print(f"target {target:+.2f}  alpha {alpha:.2f}  inner samples {int(n)}  mu0 {mu0:+.2f}  "
          f"sigma0 {sigma0:.2f}")
    for estimator in ("dice", "lvc", "naive"):
        exact, exact_se = exact_gradient(*setting, loo=estimator == "dice")
        samples = estimates(estimator, *setting)
        c = 1.0 if estimator == "dice" else max(
            float(samples.mean(0) @ exact / (exact @ exact)), 0.0)
        z = z_scores(samples, c * exact, c * exact_se)
        var = samples.var(0).sum().item() / c ** 2 if c > 0 else float("nan")
        print(f"  {estimator:<6} z {[round(x, 1) for x in z.tolist()]}  "
              f"total variance / c^2 {var:.3g}")
