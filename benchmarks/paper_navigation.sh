#!/usr/bin/env bash
# The MAML paper's 2D-navigation protocol: 20 tasks x 20 episodes per meta-iteration, H = 100;
# evaluation on 40 held-out goals with 40 episodes per step, 0..3 inner steps, with
# random-init and multi-task `pretrain` rows. Usage: benchmarks/paper_navigation.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
OUT=${OUT:-runs/paper}
BIN=.venv/bin
/usr/bin/time -f "maml training: %e s wall" $BIN/mamlgame train navigation --algo maml \
  --iterations "$N" --meta-batch 20 --episodes 20 --inner-lr 0.6 --out "$OUT/maml" --overwrite --quiet
/usr/bin/time -f "pretrain training: %e s wall" $BIN/mamlgame train navigation --algo pretrain \
  --iterations "$N" --meta-batch 20 --episodes 20 --inner-lr 0.6 --out "$OUT/pretrain" --overwrite --quiet
$BIN/mamlgame eval "$OUT/maml/checkpoint.pt" --tasks 40 --episodes 40 --steps 0,1,2,3 \
  --baselines --pretrained "$OUT/pretrain/checkpoint.pt" \
  --json "$OUT/eval.json" --plot "$OUT/eval.png"
