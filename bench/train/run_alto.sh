#!/usr/bin/env bash
# alto's side of the training benchmark: build/bench/bench_train over {debugmodel B=8 T=2048,
# 1b B=4 T=2048} x {bf16, fp8_block, llama3_mxfp4}, each with a per-op breakdown; results to
# $OUT/alto_train.txt (OUT defaults to /tmp). Run beside run_torch.sh on the same GPU.
#   bench/train/run_alto.sh            (from the repository root, after scripts/setup)
# Environment: STEPS (10), WARMUP (3), CONFIGS ("debugmodel:8:2048 1b:4:2048"),
# RECIPES ("bf16 fp8_block llama3_mxfp4").
set -u
OUT=${OUT:-/tmp}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-3}
CONFIGS=${CONFIGS:-"debugmodel:8:2048 1b:4:2048"}
RECIPES=${RECIPES:-"bf16 fp8_block llama3_mxfp4"}
BIN=${BIN:-build/bench/bench_train}
mkdir -p "$OUT"
LOG="$OUT/alto_train.txt"
: >"$LOG"
failed=0
for cfg in $CONFIGS; do
  IFS=: read -r model batch seq <<<"$cfg"
  for r in $RECIPES; do
    echo "=== $model $r B=$batch T=$seq" >>"$LOG"
    if ! timeout 300 "$BIN" --model "llama3/$model" --recipe "$r" --batch "$batch" --seq "$seq" \
      --steps "$STEPS" --warmup "$WARMUP" --profile >>"$LOG" 2>&1; then
      echo "FAILED $model $r" | tee -a "$LOG"
      failed=$((failed + 1))
    fi
    grep "^alto llama3/$model $r " "$LOG" | tail -1
  done
done
exit $failed
