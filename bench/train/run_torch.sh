#!/usr/bin/env bash
# The PyTorch reference matrix: {debugmodel B=8 T=2048, 1b B=4 T=2048} x {bf16, fp8_block}, one
# process per config (a crash or OOM in one does not stop the others). Everything the runs print
# goes to $OUT/torch_ref.txt (OUT defaults to /tmp), the RESULT lines also to
# $OUT/torch_ref.jsonl (without the prefix), and the human lines to stdout.
#
#   bench/train/run_torch.sh [extra torch_ref.py args, e.g. --no-compile or --profile]
#
# Environment: PYTHON (python3), STEPS (20), WARMUP (5), CONFIGS ("debugmodel:8:2048 1b:4:2048"),
# PRECISIONS ("bf16 fp8_block"), CFG_TIMEOUT (seconds per config, 600).
# Exit status: the number of configs that failed (0 when all ran or were skipped).
set -u
OUT=${OUT:-/tmp}
PY=${PYTHON:-python3}
STEPS=${STEPS:-20}
WARMUP=${WARMUP:-5}
CONFIGS=${CONFIGS:-"debugmodel:8:2048 1b:4:2048"}
PRECISIONS=${PRECISIONS:-"bf16 fp8_block"}
CFG_TIMEOUT=${CFG_TIMEOUT:-600}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
LOG="$OUT/torch_ref.txt"
JSONL="$OUT/torch_ref.jsonl"
: >"$LOG"
: >"$JSONL"

{
  echo "# torch_ref matrix, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), steps $STEPS, warmup $WARMUP, extra args: $*"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1
  "$PY" -c 'import torchao; print("torchao", torchao.__version__)' 2>/dev/null || echo "torchao: not installed"
} | tee -a "$LOG"

failed=0
for cfg in $CONFIGS; do
  IFS=: read -r model batch seq <<<"$cfg"
  for prec in $PRECISIONS; do
    echo "=== $model $prec B=$batch T=$seq" | tee -a "$LOG"
    tmp=$(mktemp)
    timeout "$CFG_TIMEOUT" "$PY" "$HERE/torch_ref.py" --model "$model" --batch "$batch" --seq "$seq" \
      --precision "$prec" --steps "$STEPS" --warmup "$WARMUP" "$@" 2>&1 | tee "$tmp" >>"$LOG"
    rc=${PIPESTATUS[0]}
    grep -E '^(torch_ref |fp8: |# fp8)' "$tmp" || true
    if grep -q '^RESULT ' "$tmp"; then
      grep '^RESULT ' "$tmp" | sed 's/^RESULT //' >>"$JSONL"
    else
      # No RESULT line (a crash, a kill at the time limit): write one so the driver sees the config.
      printf '{"model": "%s", "precision": "%s", "batch": %s, "seq": %s, "status": "failed", "rc": %s}\n' \
        "$model" "$prec" "$batch" "$seq" "$rc" | tee -a "$JSONL" | sed 's/^/RESULT /' >>"$LOG"
      tail -n 5 "$tmp"
    fi
    if [ "$rc" -ne 0 ]; then
      echo "=== $model $prec: exit status $rc" | tee -a "$LOG"
      failed=$((failed + 1))
    fi
    rm -f "$tmp"
  done
done
echo "# done: $failed config(s) failed; log $LOG, results $JSONL" | tee -a "$LOG"
exit "$failed"
