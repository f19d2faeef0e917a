#!/usr/bin/env bash
# Game agents (issue: game agents that can play): each agent trains for a wall-time budget on
# a pack, then is evaluated after 0..3 inner steps on the pack's `valid` split (64 unseen
# levels of the training distribution) and on its `test` split (out of distribution), plus
# the goal-visible reference (the same pack with `observe_goal = true`, `pretrain`).
# Usage: benchmarks/game_agents.sh PACK [BUDGET] [SEEDS] [ALGOS]
#   e.g. benchmarks/game_agents.sh mixed 20m "0 1 2" "maml cavia pretrain"
# The algo `recipe` trains with the pack's own recipe and budget (`mamlgame train PACK`, the
# game family's recipe unless the pack's [train] says otherwise), BUDGET not applied:
#   benchmarks/game_agents.sh mixed 14m "0 1" "recipe pretrain"
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=${1:-mixed}
BUDGET=${2:-20m}
SEEDS=${3:-0}
ALGOS=${4:-maml cavia pretrain}
OUT=${OUT:-runs/game-agents}
BIN=.venv/bin
mkdir -p "$OUT"
SRC=$($BIN/python -c "from mamlgame.packs import resolve_pack_path as r; print(r('$PACK'))")
NAME=$(basename "$SRC" .toml)
sed '/^\[generate\]/a observe_goal = true' "$SRC" > "$OUT/$NAME-goal.toml"

run() {  # run NAME PACKFILE ALGO SEED
  local d="$OUT/$1-$3-$4"
  if [ "$3" = recipe ]; then
    $BIN/mamlgame train "$2" --seed "$4" --out "$d" --overwrite --quiet
  else
    $BIN/mamlgame train "$2" --algo "$3" --time-limit "$BUDGET" --seed "$4" --out "$d" \
      --overwrite --quiet
  fi
  for split in valid test; do
    $BIN/mamlgame eval "$d/checkpoint.pt" --split "$split" --tasks 64 --steps 0,1,2,3 \
      --episodes 20 --json "$d/eval-$split.json" | tail -n 4
  done
}

for seed in $SEEDS; do
  for algo in $ALGOS; do
    run "$NAME" "$SRC" "$algo" "$seed"
  done
  run "$NAME-goal" "$OUT/$NAME-goal.toml" pretrain "$seed"
done
$BIN/python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
print(f"{'run':<32} {'split':<6} " + " ".join(f"{k + ' step':>14}" for k in "0123") + "  hurt")
for f in sorted(Path(sys.argv[1]).glob("*/eval-*.json")):
    r = json.loads(f.read_text())
    cells = " ".join(f"{100 * r['success'][k]:5.1f} ± {100 * r['success_se'][k]:4.1f}%"
                     for k in "0123")
    print(f"{f.parent.name:<32} {r['split']:<6} {cells}  {100 * r['worse_fraction']['1']:.0f}%")
PY
