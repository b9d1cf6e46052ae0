#!/usr/bin/env bash
# Install micro-bench from a wheel (not editable) into a fresh virtual environment and use it
# from a folder outside the checkout: a bundled benchmark by name, the tidy results, the report,
# and the TensorBoard and MLflow loggers read back with their own readers.
#
#   tools/check_wheel.sh [WORKDIR]      (default: a new temporary folder; needs ~7 GB, ~10 min)
#
# Prints the default install's time and size (no extras, pip cache off), then the extras'.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
cd "$work"
export PIP_DISABLE_PIP_VERSION_CHECK=1 MPLBACKEND=Agg MICRO_BENCH_CACHE="$work/cache"

echo "== build the wheel"
rm -rf dist && python3 -m venv build-env && build-env/bin/python -m pip install -q build
build-env/bin/python -m build -q --wheel --outdir dist "$repo" >/dev/null
wheel=$(ls dist/micro_bench-*.whl)
echo "wheel: $wheel ($(du -k "$wheel" | cut -f1) KiB)"
python3 - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["micro_bench/py.typed", "micro_bench_hpa/benchmarks/hpa_table1.yaml",
        "micro_bench_hpa/benchmarks/reference/hpa_table4.csv", "micro_bench_report/plugin.py"]
missing = [n for n in need if n not in names]
assert not missing, missing
print("wheel contents ok:", len(names), "files")
PY

echo "== default install (no extras, no pip cache)"
rm -rf venv && python3 -m venv venv
venv/bin/python -m pip install -q --upgrade pip 2>/dev/null
start=$(date +%s.%N)
venv/bin/python -m pip install -q --no-cache-dir "$wheel" 2>&1 | grep -v "^WARNING: Location" || true
echo "default install: $(echo "$(date +%s.%N) - $start" | bc | cut -d. -f1) s, $(du -sm venv | cut -f1) MiB, $(venv/bin/python -m pip list --format=freeze 2>/dev/null | wc -l) distributions"
start=$(date +%s.%N)
venv/bin/python -m pip install -q --no-cache-dir "$wheel[tensorboard,mlflow,pandas]" 2>&1 | grep -v "^WARNING: Location" || true
echo "extras [tensorboard,mlflow,pandas]: $(echo "$(date +%s.%N) - $start" | bc | cut -d. -f1) s, total $(du -sm venv | cut -f1) MiB"

echo "== use it from $work/use (outside the checkout)"
mkdir -p use && cd use
../venv/bin/micro-bench list benchmark
start=$(date +%s)
MLFLOW_ALLOW_FILE_STORE=true ../venv/bin/micro-bench run hpa_table1 --profile smoke --log tensorboard --log mlflow --no-progress
echo "hpa_table1 smoke: $(( $(date +%s) - start )) s"
../venv/bin/micro-bench results runs --format csv --out results.csv
head -3 results.csv
../venv/bin/micro-bench report runs --out report.html
MLFLOW_ALLOW_FILE_STORE=true ../venv/bin/python - <<'PY'
import csv, json, pathlib
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from mlflow.tracking import MlflowClient
rows = list(csv.DictReader(open("results.csv")))
index = json.loads(pathlib.Path("runs/hpa_table1/index.json").read_text())
print(f"results.csv: {len(rows)} rows for {len(index['rows'])} runs")
key = index["rows"][0]["key"]
env = json.loads(pathlib.Path(f"runs/hpa_table1/{key}/environment.json").read_text())
print("environment.json:", env["python"], env["platform"], sorted(env["distributions"].items()))
events = EventAccumulator(f"runs/hpa_table1/{key}/tensorboard"); events.Reload()
print("tensorboard tags:", events.Tags()["scalars"][:6], "images:", events.Tags()["images"])
client = MlflowClient(pathlib.Path("mlruns").resolve().as_uri())
exp = client.get_experiment_by_name("hpa_table1")
runs = client.search_runs([exp.experiment_id])
print("mlflow runs:", [(r.info.run_name, r.info.status, round(r.data.metrics.get("final.f1_macro", float("nan")), 4)) for r in runs])
print("mlflow artifacts of", runs[0].info.run_name, sorted(a.path for a in client.list_artifacts(runs[0].info.run_id)))
PY
echo "== wheel check passed"
