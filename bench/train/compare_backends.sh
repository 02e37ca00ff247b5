#!/usr/bin/env bash
# The same 200 steps on the CPU and on the GPU for each recipe, into one parent directory, so that
# alto-train's overlay plot (PARENT/loss.png) shows the two backends' curves together, and a table
# of the final validation losses.
#   bench/train/compare_backends.sh [PARENT]      (a GPU must be present; default /tmp/alto-compare)
# Data: build/fortunes (alto-data --build --out build/fortunes), so that both backends read the
# same tokens. Environment: STEPS (200), RECIPES ("bf16 llama3_mxfp4 fp8_block").
set -eu
PARENT=${1:-/tmp/alto-compare}
STEPS=${STEPS:-200}
RECIPES=${RECIPES:-"bf16 llama3_mxfp4 fp8_block"}
[ -f build/fortunes/train.bin ] || build/bin/alto-data --build --out build/fortunes
for r in $RECIPES; do
  for b in cpu cuda; do
    build/bin/alto-train --model llama3/debugmodel --recipe "$r" --steps "$STEPS" \
      --data build/fortunes --backend "$b" --run-dir "$PARENT/${b}_$r" --fresh 2>&1 | tail -1
  done
done
printf "%-24s %s\n" run "val loss at step $STEPS"
for d in "$PARENT"/*/; do
  printf "%-24s %s\n" "$(basename "$d")" "$(grep "^$STEPS," "$d/metrics.csv" | cut -d, -f3)"
done
echo "overlay: $PARENT/loss.png"
