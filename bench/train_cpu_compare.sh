#!/usr/bin/env bash
# Trains llama3 debugmodel on the CPU with the bf16, MXFP4 (ALTO default) and FP8 blockwise
# recipes, same seed and data, and reports how far each low-precision loss is from bf16.
#   bench/train_cpu_compare.sh [STEPS=200] [OUT=runs-compare]
# Writes OUT/<recipe>/{metrics.csv,loss.png} and OUT/loss.png (the three curves overlaid), then
# prints a table: final train loss (mean of the last 20 steps), final validation loss, and the
# gap to bf16. Takes about 3 x STEPS x (0.5 .. 1.5) s on 2 cores. Record the table in
# bench/NOTES.md.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-200}
OUT=${2:-runs-compare}
BIN=build/bin/alto-train
[ -x "$BIN" ] || { echo "build first: scripts/setup (or cmake --build build)" >&2; exit 1; }
for r in bf16 llama3_mxfp4 fp8_block; do
  echo "== $r"
  NO_COLOR=1 "$BIN" --model llama3/debugmodel --recipe "$r" --steps "$STEPS" \
    --val-every 50 --run-dir "$OUT/$r" --fresh 2>&1 | grep -E '^(val|done|alto-train)' || true
done
python3 - "$OUT" <<'PY' 2>/dev/null || awk -F, 'FNR>1{l[FILENAME]=$2} END{for(f in l) print f, l[f]}' "$OUT"/*/metrics.csv
import csv, sys
out = sys.argv[1]
rows = {}
for r in ["bf16", "llama3_mxfp4", "fp8_block"]:
    with open(f"{out}/{r}/metrics.csv") as f:
        m = list(csv.DictReader(f))
    tail = [float(x["loss"]) for x in m[-20:]]
    val = [float(x["val_loss"]) for x in m if x["val_loss"]]
    rows[r] = (sum(tail) / len(tail), val[-1] if val else float("nan"), len(m))
b = rows["bf16"]
print(f"{'recipe':<14} {'steps':>5} {'train(last20)':>13} {'val':>8} {'gap train':>10} {'gap val':>8}")
for r, (t, v, n) in rows.items():
    print(f"{r:<14} {n:>5} {t:>13.4f} {v:>8.4f} {t - b[0]:>+10.4f} {v - b[1]:>+8.4f}")
PY
echo "plot: $OUT/loss.png"
