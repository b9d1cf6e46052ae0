#!/usr/bin/env bash
# One short check on a GPU machine (issue 15), everything written under $OUT (a few MB):
#   1. benchmarks/perf/trainer.py: ResNet50, 256 px, batch 64, bf16 and fp32; each run times the
#      trainer's loop against a bare loop, channels_last on and off (images/s of each);
#   2. a hpa_synth store of 31,072 samples at 256 px (`micro-bench data synth --workers`), whose
#      0.8/0.1/0.1 split gives 24,858 training samples, like HPA's;
#   3. benchmarks/perf/input.py (when it exists; INPUT_ARGS, default "--device cuda --model-batch 64
#      --model-steps 20", the options it had when this was written);
#   4. one epoch of Table IV's first row (BCE, ResNet50 from scratch, the paper's recipe with one
#      SGDR cycle of one epoch and no head-only epoch, flips TTA on the validation split) at 256 px
#      on that store, in fp32 (the paper's precision) and then in bf16, timed;
#   5. summary.json: the numbers, and the full Table IV time estimated from them.
# Steps run in that order under per-step time limits and an overall budget (BUDGET_S, default
# 450 s), skipping what no longer fits, so that the whole script stays under 8 minutes.
#
#   OUT=/path/to/results bash benchmarks/perf/gpu_check.sh            # one GPU (H100: < 8 min)
#   OUT=/tmp/gc bash benchmarks/perf/gpu_check.sh --dry-run           # CPU, tiny sizes (~3 min)
#
# Big files (the store, checkpoints) go to WORK (default /tmp/micro-bench-gpu-check), not $OUT.
# PYTHON and MB name the interpreter and the CLI (default: python, micro-bench), both with
# micro-bench installed (pip install -e .).
# Documented in docs/performance.md ("The GPU check").
set -uo pipefail
cd "$(dirname "$0")/../.."
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
: "${OUT:?set OUT to the folder for the results}"
WORK=${WORK:-/tmp/micro-bench-gpu-check}
PY=${PYTHON:-python}
MB=${MB:-micro-bench}
BUDGET_S=${BUDGET_S:-450}
CORES=$(nproc)
mkdir -p "$OUT" "$WORK"
export MICRO_BENCH_CACHE="$WORK/cache" MPLBACKEND=Agg
T0=$(date +%s)

if [ "$DRY" = 1 ]; then  # the same steps at CPU sizes: checks the script, not the numbers
  N=300; RES=32; ARCH=resnet18_4ch; BATCH=16; STEPS=3; DEVICE=cpu; BUDGET_S=${BUDGET_S_DRY:-1200}
  INPUT_ARGS=${INPUT_ARGS:---device cpu --samples 64 --res 32 --arch resnet18_4ch --model-steps 2 --repeat 1}
  SCALE=4; EXTRA="--threads 1"  # limits x4: a shared CPU
else
  N=31072; RES=256; ARCH=resnet50_4ch; BATCH=64; STEPS=20; DEVICE=cuda
  INPUT_ARGS=${INPUT_ARGS:---device cuda --model-batch 64 --model-steps 20}; SCALE=1; EXTRA=""
fi
WORKERS=$(( CORES > 16 ? 16 : CORES ))

log() { echo "[$(date -u +%H:%M:%S) +$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/gpu_check.log"; }
# step NAME LIMIT_S CMD...: runs CMD (output in $OUT/NAME.txt) if LIMIT_S still fits the budget.
step() {
  local name=$1 limit=$(( $2 * SCALE )) start rc left
  shift 2
  left=$(( BUDGET_S - ($(date +%s) - T0) ))
  if [ "$left" -lt "$limit" ]; then
    log "skip $name: needs up to ${limit}s, ${left}s of the budget left"
    echo "{\"step\": \"$name\", \"skipped\": true}" >> "$OUT/steps.jsonl"
    return 0
  fi
  start=$(date +%s)
  log "start $name (limit ${limit}s): $*"
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  rc=$?
  log "end $name: rc=$rc in $(( $(date +%s) - start ))s"
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $(( $(date +%s) - start ))}" >> "$OUT/steps.jsonl"
}

{
  date -u; uname -a; echo "cores: $CORES"; free -g 2>/dev/null
  nvidia-smi 2>/dev/null || echo "no nvidia-smi"
  $PY -c "import torch, sys; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"
  git log -1 --oneline 2>/dev/null
} > "$OUT/machine.txt" 2>&1
log "dry_run=$DRY n=$N res=$RES arch=$ARCH cores=$CORES budget=${BUDGET_S}s"

# 1. the trainer against a bare loop, bf16 and fp32, channels_last on/off (data in memory)
for prec in bf16 fp32; do
  flag=""; [ "$prec" = fp32 ] && flag="--fp32"
  step "trainer_$prec" 120 $PY benchmarks/perf/trainer.py --arch "$ARCH" --res "$RES" --batch "$BATCH" \
    --steps "$STEPS" --epochs 1 --repeats 2 --device "$DEVICE" $flag $EXTRA --json "$OUT/trainer_$prec.json"
done

# 2. the store
STORE="$WORK/hpa_synth_n${N}_r${RES}.zarr"
step synth 150 $MB data synth "$STORE" --n "$N" --resolution "$RES" --workers "$WORKERS"

# 3. the input pipeline (benchmarks/perf/input.py, by the transforms work of issue 15)
if [ -f benchmarks/perf/input.py ]; then
  # shellcheck disable=SC2086
  step input 120 $PY benchmarks/perf/input.py $INPUT_ARGS --json "$OUT/input.json"
fi

# 4. one epoch of Table IV's first row, fp32 then bf16
$PY - "$STORE" "$RES" "$ARCH" "$WORK/table4_epoch.yaml" "$WORKERS" <<'PYEOF'
import sys
import yaml
store, res, arch, dest, workers = sys.argv[1:]
with open("benchmarks/hpa_table4.yaml", encoding="utf-8") as fh:
    bench = yaml.safe_load(fh)
bench["name"] = "gpu_check_table4_epoch"
bench["dataset"] = {"name": "hpa", "store": store, "resolution": int(res)}
bench["model"] = {**bench["model"], "name": arch, "pretrained": False}  # no download on the machine
bench["trainer"] = {**bench["trainer"], "freeze_epochs": 0, "num_workers": int(workers)}
bench["scheduler"] = {**bench["scheduler"], "cycles": 1}  # one SGDR cycle of one epoch
bench["runs"] = bench["runs"][:1]
for key in ("profiles", "reference"):
    bench.pop(key, None)
with open(dest, "w", encoding="utf-8") as fh:
    yaml.safe_dump(bench, fh, sort_keys=False, allow_unicode=True)
PYEOF
for prec in fp32 bf16; do
  amp=false; [ "$prec" = bf16 ] && amp=true
  step "epoch_$prec" 170 $MB run "$WORK/table4_epoch.yaml" --set "trainer.amp=$amp" \
    --out "$WORK/runs_$prec" --no-progress --json
done

# 5. summary: small result files to $OUT, numbers and the estimate in summary.json
$PY - "$WORK" "$OUT" "$N" <<'PYEOF'
import json, shutil, sys
from pathlib import Path
work, out, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
summary = {"samples": n, "steps": [json.loads(l) for l in (out / "steps.jsonl").read_text().splitlines() if l.strip()]}
for prec in ("bf16", "fp32"):
    f = out / f"trainer_{prec}.json"
    if f.is_file():
        summary[f"trainer_{prec}"] = json.loads(f.read_text())
for prec in ("fp32", "bf16"):
    runs = work / f"runs_{prec}"
    for f in sorted(runs.rglob("*")):
        if f.is_file() and f.suffix in (".json", ".csv", ".txt", ".log", ".yaml") and f.stat().st_size < 5_000_000:
            dst = out / f"runs_{prec}" / f.relative_to(runs)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dst)
    seconds = [s.get("seconds") for s in summary["steps"] if s.get("step") == f"epoch_{prec}" and s.get("rc") == 0]
    results = sorted(runs.rglob("result.json"))
    if seconds and results:
        res = json.loads(results[0].read_text())
        fit, pred = res["timings"]["fit_s"], res["timings"]["predict_s"]
        hist = res.get("history", {})
        summary[f"epoch_{prec}"] = {
            "command_seconds": seconds[0], "fit_s": fit, "predict_tta_s": pred,
            "train_loop_s": hist.get("seconds"), "samples_per_s": hist.get("samples_per_s"),
            "counts": res.get("counts"),
        }
        # The full Table IV: 9 rows x (1 head-only epoch + 7 SGDR epochs, then flips TTA). A
        # head-only epoch is counted as a full one (an upper bound); set-up (process start, split,
        # statistics, model) is the command's time less fit and predict, paid once per row.
        setup = seconds[0] - fit - pred
        summary[f"table4_estimate_minutes_{prec}"] = round(9 * (8 * fit + pred + setup) / 60, 1)
(out / "summary.json").write_text(json.dumps(summary, indent=1))
print(json.dumps({k: v for k, v in summary.items() if k != "steps"}, indent=1)[:4000])
PYEOF
log "done in $(( $(date +%s) - T0 ))s"
