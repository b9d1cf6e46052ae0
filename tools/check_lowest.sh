#!/usr/bin/env bash
# The lowest declared versions, installed and tested: resolves micro-bench[test] with uv's
# `--resolution lowest-direct` (every direct dependency at its lower bound, theirs at what fits),
# installs that into a fresh Python 3.11 environment, and runs the quick tests (-m "not slow").
#
#   tools/check_lowest.sh [WORKDIR [PYTEST ARGS...]]
#
# torch and torchvision are held at the versions given by TORCH_PINS (default: what this
# machine's package index has, 2.14.1 / 0.29.1) because their lowest releases on PyPI are
# multi-gigabyte CUDA builds; their bounds come from numpy 2 support instead (docs/install.md).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
shift || true
mkdir -p "$work" && cd "$work"
python3 -m venv uv-env && uv-env/bin/python -m pip install -q uv
uv=uv-env/bin/uv
pins=${TORCH_PINS:-"torch==2.14.1 torchvision==0.29.1"}
printf '%s\n' $pins > overrides.txt
# pip's configured indexes (a local mirror here) plus PyPI.
index_args=(--index-url https://pypi.org/simple --index-strategy unsafe-best-match)
for url in $(python3 -m pip config get global.extra-index-url 2>/dev/null || true); do index_args+=(--extra-index-url "$url"); done
for dir in $(python3 -m pip config get global.find-links 2>/dev/null || true); do index_args+=(--find-links "$dir"); done
$uv pip compile --quiet --python-version 3.11 --resolution lowest-direct --override overrides.txt \
    "${index_args[@]}" "$repo/pyproject.toml" --extra test -o lowest.txt
echo "== lowest direct versions:"
python3 - "$repo/pyproject.toml" lowest.txt <<'PY'
import re, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
reqs = project["dependencies"] + [r for v in project["optional-dependencies"].values() for r in v]
names = {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in reqs} - {"micro-bench"}
pinned = dict(l.strip().split("==", 1) for l in open(sys.argv[2]) if "==" in l and not l.startswith(" "))
print(" ".join(f"{n}=={pinned.get(n, '?')}" for n in sorted(names)))
PY
rm -rf venv && $uv venv --quiet --python 3.11 venv
VIRTUAL_ENV=$PWD/venv $uv pip install --quiet "${index_args[@]}" -r lowest.txt
VIRTUAL_ENV=$PWD/venv $uv pip install --quiet --no-deps -e "$repo" -e "$repo/examples/micro-bench-asl"
cd "$repo"
MICRO_BENCH_CACHE="$work/cache" MPLBACKEND=Agg "$work/venv/bin/python" -m pytest -q -m "not slow" -p no:cacheprovider "$@"
