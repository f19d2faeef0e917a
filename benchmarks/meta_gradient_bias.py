"""How far each estimator's mean meta-gradient is from the exact gradient of the MAML-RL
objective on the bandit (in standard errors). Usage: python benchmarks/meta_gradient_bias.py"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch  # noqa: E402
from test_meta_gradient import estimator_samples, exact_meta_gradient, z_scores  # noqa: E402

torch.set_num_threads(1)
exact = exact_meta_gradient()
print(f"exact grad F (weight, bias, log_std): {[round(x, 4) for x in exact.tolist()]}")
for estimator in ("dice", "lvc", "naive"):
    samples = estimator_samples(estimator)
    z = z_scores(samples, exact)
    print(f"{estimator:<6} mean {[round(x, 4) for x in samples.mean(0).tolist()]}  "
          f"z-scores {[round(x, 1) for x in z.tolist()]}")
