#!/usr/bin/env python
"""The hostile-user probe (issue 28): hundreds of cases over every command, each classified.

    python tools/probe.py --out report.json            # every case (~10 minutes on 2 cores)
    python tools/probe.py --cheap --out report.json    # the cases that train nothing (the test suite's)
    python tools/probe.py --only predict --verbose     # the cases whose id contains "predict"

Each case runs ``micro-bench ARGS`` in a forked child of this process (which has imported the
command line, so a case costs milliseconds, not an interpreter start), in its own folder, after
its own set-up (copies of the shared fixtures, damaged as the case says). Its outcome is one of:

- ``clean``: exit 0 with the right output (the case's check, where it has one), or a non-zero
  exit with exactly one ``Error:`` line (click's usage errors: exit 2) and no traceback;
- ``traceback``: a Python traceback, ``internal error``, exit 70, a death by signal, or an
  exception that escaped the command;
- ``silent_wrong``: exit 0 where the input was bad (the case expects an error), or a check of the
  output that fails (a wrong number, a missing row);
- ``loss``: a shared fixture (the stores, sources and runs every case reads) or a file the case
  protects changed;
- ``hang``: still running after the case's timeout (the process group is killed);
- ``unclear``: a refusal without exactly one ``Error:`` line (reported, not one of the four).

The report (``--out``) lists every case with its argv, outcome, exit code and the output's tail,
and the counts. Exit status: 1 when any case is a traceback, silent_wrong, loss or hang.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import hashlib
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "src", ROOT / "plugins", ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

BAD = ("traceback", "silent_wrong", "loss", "hang")
Setup = Callable[[Path, Path], None]
Check = Callable[[Path, Path, str], "str | None"]


@dataclass
class Case:
    """One probe case. ``argv`` may hold ``{W}`` (the workspace: fixtures under ``{W}/fx``) and
    ``{C}`` (the case's own folder, its working directory)."""

    id: str
    argv: list[str]
    setup: Setup | None = None
    expect: str = "any"  # "ok", "error" or "any"
    check: Check | None = None  # on exit 0: a reason when the output is wrong
    protect: tuple[str, ...] = ()  # files/folders (formatted like argv) that must not change
    cheap: bool = True
    timeout: float = 90.0
    codes: tuple[int, ...] = ()  # documented non-zero exits that are not refusals (predict's 3)


# --- fixtures ---------------------------------------------------------------------------------

SK_BENCH = {
    "version": 1, "name": "probe_sk", "seed": 0,
    "dataset": {"name": "hpa_synth", "n": 40, "resolution": 32},
    "split": {"fractions": [0.5, 0.25, 0.25]},
    "model": {"name": "logreg", "C": 0.1, "solver": "lbfgs"},
    "trainer": {"name": "sklearn", "n_jobs": 1, "resolution": 8},
    "transform": None,
    "evaluate": {"split": "val", "threshold": 0.5},
    "metrics": ["f1_macro", "roc_auc_macro", "hamming_loss"],
    "runs": [{"label": "a"}, {"label": "b", "model": {"C": 1.0}}],
}
TORCH_BENCH = {
    "version": 1, "name": "probe_torch", "seed": 3,
    "dataset": {"name": "hpa_synth", "n": 40, "resolution": 32},
    "split": {"method": "multilabel_stratified", "fractions": [0.5, 0.25, 0.25], "seed": 0},
    "model": {"name": "timm:resnet10t", "pretrained": False, "dropout": 0.2},
    "trainer": {"name": "torch", "batch_size": 8, "lr": 0.01, "freeze_epochs": 0, "epochs": 1, "device": "cpu",
                "threads": 1, "epoch_metrics": []},
    "loss": "bce", "scheduler": None, "tta": None,
    "evaluate": {"split": "val", "threshold": 0.5},
    "metrics": ["f1_macro"],
}
SELECT_BENCH = {
    "version": 1, "name": "probe_select", "seed": 0,
    "dataset": {"name": "hpa_synth", "n": 40, "resolution": 32},
    "split": {"fractions": [0.5, 0.25, 0.25]},
    "model": {"name": "selected"}, "trainer": {"name": "select", "source": "probe_sk", "metric": "f1_macro"},
    "loss": None, "scheduler": None, "transform": None, "tta": None,
    "evaluate": {"split": "test", "threshold": 0.5}, "metrics": ["f1_macro"],
    "runs": [{"label": "best"}],
}
OWN_CLASSES = ["mitotic", "apoptotic", "ciliated", "polarised"]
OWN_CHANNELS = ["dapi", "gfp", "tubulin"]


def _yaml(data: dict, path: Path) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def build_fixtures(work: Path, full: bool) -> None:
    """Everything the cases read, under ``work/fx`` (run in a separate process: the probe's
    parent stays free of threads before it forks)."""
    import numpy as np

    import owndata
    from micro_bench_hpa.synth.generate import generate_store, write_png_layout

    fx = work / "fx"
    fx.mkdir(parents=True, exist_ok=True)
    generate_store(fx / "store.zarr", n=40, resolutions=(16,), seed=2)
    write_png_layout(fx / "kaggle", n=6, resolution=512, seed=3)
    ids, labels, pixels = owndata.make_pixels(n=8, channels=3, side=32, seed=1, classes=OWN_CLASSES)
    (fx / "own").mkdir()
    owndata.write_labels(fx / "own" / "labels.csv", ids, labels, classes=OWN_CLASSES)
    owndata.write_png_per_channel(fx / "own" / "png", ids, pixels, OWN_CHANNELS)
    owndata.write_tiff(fx / "own" / "tif", ids, pixels)
    owndata.write_tiff(fx / "own" / "ome", ids, pixels, channels=OWN_CHANNELS, ome=True)
    owndata.write_ome_zarr(fx / "own" / "omezarr", ids, pixels, OWN_CHANNELS)
    np.save(fx / "own" / "truth.npy", labels)
    (fx / "own" / "ids.txt").write_text("\n".join(ids) + "\n")
    # predict's input: a Kaggle-style folder of RGBY PNGs without labels
    shutil.copytree(fx / "kaggle" / "train", fx / "images")
    _yaml(SK_BENCH, fx / "sk.yaml")
    _yaml(TORCH_BENCH, fx / "torch.yaml")
    _yaml(SELECT_BENCH, fx / "select.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "micro_bench"]
    subprocess.run([*cli, "run", str(fx / "sk.yaml"), "--out", str(fx / "runs"), "--no-progress"], check=True,
                   env=env, stdout=subprocess.DEVNULL)
    subprocess.run([*cli, "data", "convert", str(fx / "kaggle"), str(fx / "kaggle.zarr"), "--resolutions", "32,16",
                    "--workers", "1"], check=True, env=env, stdout=subprocess.DEVNULL)
    if full:
        subprocess.run([*cli, "run", str(fx / "torch.yaml"), "--out", str(fx / "truns"), "--no-progress"],
                       check=True, env=env, stdout=subprocess.DEVNULL)


def _run_dir(w: Path, name: str = "runs", bench: str = "probe_sk") -> Path:
    return sorted(p.parent for p in (w / "fx" / name / bench).glob("*/result.json"))[0]


# --- helpers for set-ups and checks ------------------------------------------------------------


def copy_fx(name: str, to: str | None = None) -> Setup:
    def setup(w: Path, c: Path) -> None:
        src = w / "fx" / name
        dest = c / (to or Path(name).name)
        if src.is_dir():
            shutil.copytree(src, dest, symlinks=True)
        else:
            shutil.copy2(src, dest)
    return setup


def chain(*steps: Setup) -> Setup:
    def setup(w: Path, c: Path) -> None:
        for step in steps:
            step(w, c)
    return setup


def write(rel: str, data: str | bytes) -> Setup:
    def setup(w: Path, c: Path) -> None:
        path = c / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return setup


def damage(rel: str, how: str) -> Setup:
    """``flip`` a byte in the middle, ``truncate`` to half, ``empty``, ``delete``, ``garbage``,
    ``fifo`` (a named pipe in its place), ``dir`` (a folder in its place); ``rel`` may be a glob."""
    def setup(w: Path, c: Path) -> None:
        for path in sorted(c.glob(rel)) or [c / rel]:
            _damage(path, how)
    return setup


def _damage(path: Path, how: str) -> None:
    if how == "flip" and path.is_file():
        data = bytearray(path.read_bytes())
        if data:
            data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "truncate" and path.is_file():
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "delete":
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    elif how == "garbage":
        path.write_bytes(b"\x00\xffgarbage\x89PNG" * 7)
    elif how == "fifo":
        if path.exists():
            path.unlink()
        os.mkfifo(path)
    elif how == "dir":
        if path.exists():
            path.unlink()
        path.mkdir()


def edit_json(rel: str, edit: Callable[[Any], Any]) -> Setup:
    def setup(w: Path, c: Path) -> None:
        for path in sorted(c.glob(rel)):
            path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    return setup


def edit_zarr(rel: str, edit: Callable[[Any], None]) -> Setup:
    def setup(w: Path, c: Path) -> None:
        import zarr

        edit(zarr.open_group(c / rel, mode="r+"))
    return setup


def yaml_case(data: dict | str | bytes, name: str = "bench.yaml") -> Setup:
    def setup(w: Path, c: Path) -> None:
        if isinstance(data, dict):
            _yaml(data, c / name)
        else:
            (c / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    return setup


def says(*needles: str) -> Check:
    def check(w: Path, c: Path, output: str) -> str | None:
        missing = [n for n in needles if n not in output]
        return f"output lacks {missing}" if missing else None
    return check


def store_matches(rel: str, ids_of: Callable[[Path], list[str]], labels_of: Callable[[Path], Any] | None = None,
                  classes: list[str] | None = None) -> Check:
    """The store written by a convert holds exactly the expected ids (and labels, classes)."""
    def check(w: Path, c: Path, output: str) -> str | None:
        import numpy as np
        import zarr

        group = zarr.open_group(c / rel, mode="r")
        ids = [str(i) for i in group["ids"][:]]
        want = ids_of(w)
        if sorted(ids) != sorted(want):
            return f"store ids {ids[:4]}... differ from the source's {want[:4]}..."
        if classes is not None and list(group.attrs["classes"]) != classes:
            return f"classes {group.attrs['classes']} != {classes}"
        if labels_of is not None:
            order = [ids.index(i) for i in want]
            got = np.asarray(group["labels"][:])[order]
            if not np.array_equal(got, labels_of(w)):
                return "labels differ from the label table"
        return None
    return check


def _own_ids(w: Path) -> list[str]:
    return (w / "fx" / "own" / "ids.txt").read_text().split()


def _own_labels(w: Path) -> Any:
    import numpy as np

    return np.load(w / "fx" / "own" / "truth.npy")


def _kaggle_ids(w: Path) -> list[str]:
    with (w / "fx" / "kaggle" / "train.csv").open() as fh:
        return [row["Id"] for row in csv.DictReader(fh)]


def _kaggle_labels(w: Path) -> Any:
    import numpy as np

    with (w / "fx" / "kaggle" / "train.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    labels = np.zeros((len(rows), 28), bool)
    for i, row in enumerate(rows):
        labels[i, [int(t) for t in row["Target"].split()]] = True
    return labels


def csv_rows(rel: str, n: int) -> Check:
    def check(w: Path, c: Path, output: str) -> str | None:
        path = c / rel
        if not path.is_file():
            return f"{rel} not written"
        with path.open() as fh:
            rows = list(csv.reader(fh))
        return None if len(rows) == n + 1 else f"{rel} has {len(rows) - 1} rows, expected {n}"
    return check


# --- the cases ---------------------------------------------------------------------------------

WRONG_VALUES: list[tuple[str, Any]] = [
    ("null", None), ("str", "x"), ("neg", -1), ("zero", 0), ("huge", 10**30), ("frac", 0.5), ("bool", True),
    ("list", [1, 2]), ("map", {"a": 1}), ("unicode", "\u221e"), ("nan", float("nan")),
]


def _leaves(data: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _leaves(v, (*prefix, k))
    elif isinstance(data, list) and data and isinstance(data[0], dict):
        for i, v in enumerate(data):
            out += _leaves(v, (*prefix, i))
    else:
        out.append(prefix)
    return out


def _set(data: Any, path: tuple, value: Any) -> Any:
    data = copy.deepcopy(data)
    node = data
    for k in path[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


_DELETE = object()
# numeric leaves whose "x", list or mapping is surely wrong
_NUMERIC = {("seed",), ("dataset", "n"), ("dataset", "resolution"), ("model", "C"), ("trainer", "n_jobs"),
            ("trainer", "resolution"), ("evaluate", "threshold"), ("trainer", "batch_size"), ("trainer", "lr"),
            ("trainer", "epochs"), ("trainer", "freeze_epochs"), ("trainer", "threads"), ("model", "dropout"),
            ("split", "seed")}


def config_cases() -> list[Case]:
    cases = []
    for tag, base, cheap_run in (("sk", SK_BENCH, True), ("torch", TORCH_BENCH, False), ("select", SELECT_BENCH, None)):
        for path in _leaves(base):
            name = ".".join(map(str, path))
            for vtag, value in [*WRONG_VALUES, ("delete", _DELETE)]:
                mutated = _set(base, path, value)
                surely_bad = path in _NUMERIC and vtag in ("str", "list", "map", "unicode", "nan")
                cid = f"validate/{tag}/{name}={vtag}"
                cases.append(Case(cid, ["validate", "{C}/bench.yaml"], yaml_case(mutated),
                                  expect="error" if surely_bad else "any"))
                if cheap_run and vtag in ("neg", "zero", "huge", "null", "delete"):
                    # run must agree: a value validate passes must not fail deep in a library
                    cases.append(Case(f"run/{tag}/{name}={vtag}", ["run", "{C}/bench.yaml", "--out", "{C}/runs",
                                                                   "--no-progress"], yaml_case(mutated),
                                      expect="error" if surely_bad else "any", cheap=False, timeout=240))
        for key in ("bogus", "datset", "metricz"):
            cases.append(Case(f"validate/{tag}/unknown-key-{key}", ["validate", "{C}/bench.yaml"],
                              yaml_case({**base, key: 1}), expect="error"))
    return cases


YAML_FILES: list[tuple[str, str | bytes]] = [
    ("empty", ""), ("list", "- a\n- b\n"), ("scalar", "42\n"), ("syntax", "version: 1\nname: [unclosed\n"),
    ("tabs", "version: 1\n\tname: x\n"), ("binary", b"\x00\x01\x02\xff\xfe"), ("latin1", "name: caf\xe9\n".encode("latin-1")),
    ("dupkeys", "version: 1\nversion: 2\nname: x\n"),
    ("anchor-bomb", "a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"),
    ("python-tag", "!!python/object/apply:os.system ['echo pwned > pwned.txt']\n"), ("version-2", "version: 2\nname: x\n"),
    ("no-version", "name: x\ndataset: {name: hpa_synth}\n"), ("deep", "a: " + "[" * 200 + "]" * 200 + "\n"),
    ("name-slash", "version: 1\nname: ../../etc\n"), ("runs-not-list", "version: 1\nname: x\nruns: 5\n"),
    ("null-doc", "~\n"), ("multi-doc", "version: 1\n---\nversion: 1\n"),
]


def _sk_text(**over: Any) -> str:
    import yaml

    return yaml.safe_dump({**SK_BENCH, **over}, sort_keys=False)


def yaml_file_cases() -> list[Case]:
    cases = []
    for tag, text, exp in (("bom", "\ufeff" + _sk_text(), "ok"), ("crlf", _sk_text().replace("\n", "\r\n"), "ok"),
                           ("huge-seed", _sk_text().replace("seed: 0", "seed: 1" + "0" * 400), "error"),
                           ("runs-dup-label", _sk_text(runs=[{"label": "a"}, {"label": "a"}]), "error"),
                           ("runs-empty", _sk_text(runs=[]), "error"), ("runs-label-slash", _sk_text(runs=[{"label": "../x"}]), "any"),
                           ("metrics-unknown", _sk_text(metrics=["f1_macro", "nope"]), "error"),
                           ("metrics-empty", _sk_text(metrics=[]), "any"), ("metrics-dup", _sk_text(metrics=["f1_macro"] * 2), "any"),
                           ("profile-unknown-key", _sk_text(profiles={"p": {"bogus": 1}}), "any")):
        cases.append(Case(f"validate/yaml/{tag}", ["validate", "{C}/bench.yaml"], yaml_case(text), expect=exp))
    for tag, text in YAML_FILES:
        cases.append(Case(f"validate/yaml/{tag}", ["validate", "{C}/bench.yaml"], yaml_case(text), expect="error",
                          check=None))
        cases.append(Case(f"run/yaml/{tag}", ["run", "{C}/bench.yaml", "--out", "{C}/runs", "--no-progress"],
                          yaml_case(text), expect="error", check=None))
    cases += [
        Case("validate/file/missing", ["validate", "{C}/nope.yaml"], expect="error"),
        Case("validate/file/folder", ["validate", "{C}"], expect="error"),
        Case("validate/file/fifo", ["validate", "{C}/bench.yaml"], damage("bench.yaml", "fifo"), expect="error", timeout=30),
        Case("validate/file/unreadable", ["validate", "{C}/bench.yaml"],
             chain(yaml_case(SK_BENCH), lambda w, c: os.chmod(c / "bench.yaml", 0)), expect="any"),
        Case("validate/bundled-unknown", ["validate", "hpa_table99"], expect="error"),
        Case("validate/ok-sk", ["validate", "{W}/fx/sk.yaml"], expect="ok", check=says("OK")),
        Case("validate/ok-torch", ["validate", "{W}/fx/torch.yaml"], expect="ok", check=says("OK")),
        Case("validate/ok-bundled", ["validate", "hpa_table4"], expect="ok"),
        Case("run/out-is-file", ["run", "{W}/fx/sk.yaml", "--out", "{C}/f", "--no-progress"], write("f", "x"),
             expect="error"),
        Case("run/unknown-run-label", ["run", "{W}/fx/sk.yaml", "--out", "{C}/runs", "--run", "zzz", "--no-progress"],
             expect="error"),
        Case("run/bad-profile", ["run", "{W}/fx/sk.yaml", "--out", "{C}/runs", "--profile", "nope", "--no-progress"],
             expect="error"),
        Case("run/set-garbage", ["run", "{W}/fx/sk.yaml", "--out", "{C}/runs", "--set", "nokey", "--no-progress"],
             expect="error"),
        Case("run/set-bad-value", ["run", "{W}/fx/sk.yaml", "--out", "{C}/runs", "--set", "trainer.n_jobs=0",
                                   "--no-progress"], expect="error"),
        Case("run/workers-1000", ["run", "{W}/fx/sk.yaml", "--out", "{C}/runs", "--executor", "dask", "--workers", "1000",
                                  "--no-progress"], expect="any", cheap=False, timeout=300),
        Case("run/scheduler-garbage", ["run", "{W}/fx/sk.yaml", "--out", "{C}/runs", "--executor", "dask",
                                       "--scheduler", "not an address", "--no-progress"], expect="error"),
        Case("run/reuse-cached", ["run", "{C}/sk.yaml", "--out", "{C}/runs", "--no-progress"],
             chain(copy_fx("sk.yaml"), copy_fx("runs")), expect="any", protect=("{C}/runs/probe_sk",), cheap=False),
        # (refused: the copied file is another benchmark file under the same name, docs/writing-plugins.md)
        Case("run/ok-sk", ["run", "{W}/fx/sk.yaml", "--out", "{C}/runs", "--no-progress"], expect="ok", cheap=False,
             check=lambda w, c, o: None if len(list((c / "runs" / "probe_sk").glob("*/result.json"))) == 2
             else "two results expected"),
        Case("run/select-ok", ["run", "{C}/select.yaml", "--out", "{C}/runs", "--no-progress"],
             chain(copy_fx("select.yaml"), copy_fx("runs")), expect="ok", cheap=False, timeout=240),
        Case("run/select-missing-source", ["run", "{C}/bench.yaml", "--out", "{C}/runs", "--no-progress"],
             yaml_case({**SELECT_BENCH, "trainer": {"name": "select", "source": "no_such_bench", "metric": "f1_macro"}}),
             expect="error", cheap=False),
        Case("validate/select-bad-metric", ["validate", "{C}/bench.yaml"],
             yaml_case({**SELECT_BENCH, "trainer": {"name": "select", "source": "probe_sk", "metric": "nope"}}),
             expect="any"),  # checked against the source's results at run (one line)
        Case("run/batch-one-timm", ["run", "{C}/bench.yaml", "--out", "{C}/runs", "--no-progress"],
             yaml_case(_set(TORCH_BENCH, ("trainer", "batch_size"), 1)), expect="error"),
        Case("run/micro-batch-of-3-of-2", ["run", "{C}/bench.yaml", "--out", "{C}/runs", "--no-progress"],
             yaml_case(_set(_set(TORCH_BENCH, ("trainer", "batch_size"), 3), ("trainer", "micro_batch_size"), 2)),
             expect="any", cheap=False, timeout=240),
    ]
    return cases


def convert_cases() -> list[Case]:
    kag = copy_fx("kaggle", "src")
    own = copy_fx("own", "own")
    ok_kaggle = store_matches("o.zarr", _kaggle_ids, _kaggle_labels)
    ok_own = store_matches("o.zarr", _own_ids, _own_labels, OWN_CLASSES)
    base = ["data", "convert", "{C}/src", "{C}/o.zarr", "--resolutions", "32,16", "--workers", "1"]
    gen = ["--labels", "{C}/own/labels.csv", "--id-column", "sample", "--label-column", "labels", "--separator", ";",
           "--classes", ",".join(OWN_CLASSES), "--channels", ",".join(OWN_CHANNELS), "--resolutions", "32",
           "--workers", "1"]
    cases = [
        Case("convert/kaggle/ok", base, kag, expect="ok", check=ok_kaggle, protect=("{C}/src",)),
        Case("convert/kaggle/missing-src", ["data", "convert", "{C}/nope", "{C}/o.zarr"], expect="error"),
        Case("convert/kaggle/src-is-file", ["data", "convert", "{C}/f", "{C}/o.zarr"], write("f", "x"), expect="error"),
        Case("convert/kaggle/empty-src", ["data", "convert", "{C}/e", "{C}/o.zarr"], lambda w, c: (c / "e").mkdir(),
             expect="error"),
        Case("convert/kaggle/dest-is-file", [*base[:3], "{C}/f", *base[4:]], chain(kag, write("f", "keep")),
             expect="error", protect=("{C}/f",)),
        Case("convert/kaggle/dest-inside-src", [*base[:3], "{C}/src/o.zarr", *base[4:]], kag, expect="any"),
        Case("convert/kaggle/dest-is-src", [*base[:3], "{C}/src", *base[4:]], kag, expect="error", protect=("{C}/src",)),
        Case("convert/kaggle/dest-existing-other-store", [*base[:3], "{C}/store.zarr", *base[4:]],
             chain(kag, copy_fx("store.zarr")), expect="error", protect=("{C}/store.zarr",)),
        Case("convert/kaggle/rerun-same", base, chain(kag, copy_fx("kaggle.zarr", "o.zarr")), expect="ok",
             check=ok_kaggle),
        Case("convert/kaggle/memory-url", ["data", "convert", "{C}/src", "memory://x.zarr"], kag, expect="error"),
        Case("convert/kaggle/unknown-proto", ["data", "convert", "{C}/src", "zz://x.zarr"], kag, expect="error"),
        Case("convert/kaggle/storage-option-bad", [*base, "--storage-option", "novalue"], kag, expect="error"),
        Case("convert/kaggle/workers-1000", [*base[:-1], "1000"], kag, expect="ok", check=ok_kaggle, timeout=180),
        Case("convert/kaggle/scheduler-garbage", [*base, "--scheduler", "garbage"], kag, expect="error"),
        Case("convert/kaggle/layout-unknown", [*base, "--layout", "nope"], kag, expect="error"),
        Case("convert/kaggle/fit-bogus", [*base, "--fit", "zoom"], kag, expect="error"),
        Case("convert/kaggle/to-uint8-bogus", [*base, "--to-uint8", "2"], kag, expect="error"),
        Case("convert/kaggle/to-uint8-on-8bit", [*base, "--to-uint8", "257"], kag, expect="any"),
    ]
    for tag, value in (("zero", "0"), ("neg", "-16"), ("word", "a"), ("empty", ""), ("dup", "32,32"),
                       ("huge", "100000"), ("float", "31.5"), ("spaces", " 32 , 16 "), ("trailing", "32,"),
                       ("odd", "33"), ("upsample", "64")):
        cases.append(Case(f"convert/kaggle/resolutions-{tag}", [*base[:4], "--resolutions", value, "--workers", "1"],
                          kag, expect="error" if tag in ("zero", "neg", "word", "empty", "float", "huge") else "any",
                          timeout=120))
    for tag, value in (("zero", "0"), ("neg", "-1"), ("word", "x"), ("huge", str(10**12))):
        cases.append(Case(f"convert/kaggle/block-size-{tag}", [*base, "--block-size", value], kag,
                          expect="error" if tag != "huge" else "any"))
        cases.append(Case(f"convert/kaggle/workers-{tag}", [*base[:-1], value], kag,
                          expect="error" if tag != "huge" else "any", timeout=180))
    csv_damage = [
        ("csv-missing", damage("src/train.csv", "delete")), ("csv-empty", damage("src/train.csv", "empty")),
        ("csv-garbage", damage("src/train.csv", "garbage")), ("csv-fifo", damage("src/train.csv", "fifo")),
        ("csv-dir", damage("src/train.csv", "dir")),
        ("csv-bad-index", write("src/train.csv", "Id,Target\n{id0},28\n")),
        ("csv-neg-index", write("src/train.csv", "Id,Target\n{id0},-1\n")),
        ("csv-word-label", write("src/train.csv", "Id,Target\n{id0},nucleus\n")),
        ("csv-dup-id", write("src/train.csv", "Id,Target\n{id0},1\n{id0},2\n")),
        ("csv-no-header", write("src/train.csv", "{id0},1\n")),
        ("csv-wrong-header", write("src/train.csv", "Name,Labels\n{id0},1\n")),
        ("csv-empty-target", write("src/train.csv", "Id,Target\n{id0},\n")),
        ("csv-unknown-id", write("src/train.csv", "Id,Target\nnot-there,1\n")),
        ("csv-crlf-bom", write("src/train.csv", "\ufeffId,Target\r\n{id0},1 2\r\n")),
    ]
    for tag, step in csv_damage:
        cases.append(Case(f"convert/kaggle/{tag}", base, chain(kag, _fill_id(step)),
                          expect="any" if tag in ("csv-crlf-bom", "csv-empty-target", "csv-unknown-id") else "error",
                          timeout=30 if "fifo" in tag else 90))
    img_damage = ["flip", "truncate", "empty", "garbage", "delete", "fifo", "dir"]
    for how in img_damage:
        cases.append(Case(f"convert/kaggle/png-{how}", base, chain(kag, damage("src/train/*_green.png", how)),
                          expect="any", timeout=60,
                          check=lambda w, c, o: None if (c / "o.zarr" / "convert_report.json").is_file() else
                          "no convert_report.json for a damaged sample"))
    cases += [
        Case("convert/kaggle/png-16bit", base, chain(kag, _png16("src/train/*_red.png")), expect="any"),
        Case("convert/kaggle/png-wrong-size", base, chain(kag, _png_size("src/train/*_blue.png", 31)), expect="any"),
        Case("convert/kaggle/png-rgb", base, chain(kag, _png_rgb("src/train/*_yellow.png")), expect="any"),
        Case("convert/kaggle/two-files-one-channel", base, chain(kag, _twin("src/train/*_red.png")), expect="any",
             check=says("duplicate_channel")),  # the Kaggle path skips and reports a bad sample
        Case("convert/kaggle/signed-tif", base, chain(kag, _signed_tif("src/train/*_red.png")), expect="any"),
    ]
    # generic layouts
    for fmt, pattern in (("png", "{id}_{channel}.png"), ("tif", "{id}.tif"), ("ome", "{id}.ome.tif"),
                         ("omezarr", "{id}.ome.zarr")):
        args = ["data", "convert", f"{{C}}/own/{fmt}", "{C}/o.zarr", *gen, "--pattern", pattern]
        cases.append(Case(f"convert/generic/{fmt}-ok", args, own, expect="ok", check=ok_own, protect=("{C}/own",),
                          timeout=120))
        cases.append(Case(f"convert/generic/{fmt}-to-uint8", [*args, "--to-uint8", "257"], own, expect="ok",
                          check=ok_own, timeout=120))
        cases.append(Case(f"convert/generic/{fmt}-pct", [*args, "--to-uint8", "percentile"], own, expect="ok",
                          check=ok_own, timeout=120))
        for how in ("flip", "truncate", "garbage", "delete"):
            target = {"png": "own/png/*_gfp.png", "tif": "own/tif/*.tif", "ome": "own/ome/*.ome.tif",
                      "omezarr": "own/omezarr/*.ome.zarr/zarr.json"}[fmt]
            if fmt == "omezarr":
                target = "own/omezarr/*.ome.zarr/zarr.json" if how != "delete" else "own/omezarr/*.ome.zarr"
            cases.append(Case(f"convert/generic/{fmt}-{how}", args, chain(own, damage(target, how)), expect="any",
                              timeout=120))
    png = ["data", "convert", "{C}/own/png", "{C}/o.zarr"]
    opts = dict(zip(gen[::2], gen[1::2], strict=True))

    def g(**over: str | None) -> list[str]:
        merged = {**opts, **{f"--{k.replace('_', '-')}": v for k, v in over.items()}}
        return [*png, *[x for k, v in merged.items() if v is not None for x in (k, v)], "--pattern", "{id}_{channel}.png"]

    for tag, over, exp in (
        ("id-column-missing", {"id_column": "nope"}, "error"), ("id-column-index", {"id_column": "0"}, "ok"),
        ("id-column-index-oob", {"id_column": "9"}, "error"), ("label-column-missing", {"label_column": "x"}, "error"),
        ("separator-wrong", {"separator": "|"}, "error"), ("separator-empty", {"separator": ""}, "error"),
        ("classes-missing-one", {"classes": ",".join(OWN_CLASSES[:-1])}, "error"),
        ("classes-dup", {"classes": "mitotic,mitotic,apoptotic,ciliated,polarised"}, "error"),
        ("classes-empty-name", {"classes": "mitotic,,apoptotic"}, "error"),
        ("classes-none", {"classes": None}, "any"), ("classes-file-missing", {"classes": "{C}/nope.txt"}, "error"),
        ("channels-wrong", {"channels": "a,b,c"}, "error"), ("channels-dup", {"channels": "dapi,dapi,gfp"}, "error"),
        ("channels-subset", {"channels": "dapi,gfp"}, "any"), ("channels-empty", {"channels": ""}, "error"),
        ("labels-missing", {"labels": "{C}/nope.csv"}, "error"), ("labels-folder", {"labels": "{C}/own"}, "error"),
        ("label-columns-and-one-hot", {"label_columns": "a,b"}, "error"),
    ):
        cases.append(Case(f"convert/generic/{tag}", g(**over), own, expect=exp,
                          check=ok_own if exp == "ok" else None, timeout=120))
    for tag, pattern, exp in (("pattern-no-id", "{channel}.png", "error"), ("pattern-no-channel", "{id}.png", "error"),
                              ("pattern-unknown-ext", "{id}_{channel}.jpg", "error"),
                              ("pattern-abs", "/etc/{id}_{channel}.png", "error"),
                              ("pattern-dotdot", "../{id}_{channel}.png", "error"),
                              ("pattern-braces", "{id}_{channel}_{x}.png", "error"), ("pattern-empty", "", "error")):
        cases.append(Case(f"convert/generic/{tag}", [*g()[:-2], "--pattern", pattern], own, expect=exp, timeout=120))
    for tag, text in (("labels-empty", ""), ("labels-header-only", "sample,labels\n"),
                      ("labels-unknown-class", "sample,labels\ncell-000,nope\n"),
                      ("labels-dup-id", "sample,labels\ncell-000,mitotic\ncell-000,ciliated\n"),
                      ("labels-id-newline", "sample,labels\n\"cell\n000\",mitotic\n"),
                      ("labels-latin1", "sample,labels\ncell-000,mitotic\xe9\n"),
                      ("labels-ragged", "sample,labels\ncell-000\n"),
                      ("labels-extra-ids", "sample,labels\ncell-000,mitotic\nghost,mitotic\n"),
                      ("labels-subset", "sample,labels\ncell-000,mitotic\ncell-001,ciliated\n")):
        data = text.encode("latin-1") if "latin1" in tag else text.encode()
        cases.append(Case(f"convert/generic/{tag}", g(), chain(own, write("own/labels.csv", data)),
                          expect="any" if tag in ("labels-subset", "labels-extra-ids") else "error", timeout=120,
                          check=_reported("ghost") if tag == "labels-extra-ids" else None))
    for tag, fit in (("fit-pad", "pad"), ("fit-crop", "crop"), ("fit-resize", "resize")):
        cases.append(Case(f"convert/generic/{tag}", [*g(), "--fit", fit], own, expect="ok", check=ok_own, timeout=120))
    cases.append(Case("convert/generic/nonsquare-reported", g(), chain(own, _crop_png("own/png/*_gfp.png")),
                      expect="any", timeout=120, check=_reported("cell-000")))  # skipped and named, as the Kaggle path
    cases.append(Case("convert/generic/nonsquare-fit", [*g(), "--fit", "pad"], chain(own, _crop_all("own/png")),
                      expect="ok", timeout=120))
    cases.append(Case("convert/generic/signed-tiff", ["data", "convert", "{C}/own/tif", "{C}/o.zarr", *gen,
                                                     "--pattern", "{id}.tif"],
                      chain(own, _tif_dtype("own/tif/*.tif", "int32")), expect="error", timeout=120))
    cases.append(Case("convert/generic/float-tiff", ["data", "convert", "{C}/own/tif", "{C}/o.zarr", *gen,
                                                    "--pattern", "{id}.tif"],
                      chain(own, _tif_dtype("own/tif/*.tif", "float32")), expect="error", timeout=120))
    cases.append(Case("convert/layout-hpa2021-wrong-src", [*base, "--layout", "hpa2021"], kag, expect="error"))
    return cases


def _reported(sid: str) -> Check:
    """A sample the conversion skipped is named in the store's convert_report.json."""
    def check(w: Path, c: Path, output: str) -> str | None:
        path = c / "o.zarr" / "convert_report.json"
        return None if path.is_file() and sid in path.read_text() else f"{sid} not in convert_report.json"
    return check


def _fill_id(step: Setup) -> Setup:
    def setup(w: Path, c: Path) -> None:
        step(w, c)
        path = c / "src" / "train.csv"
        if path.is_file() and not stat.S_ISFIFO(path.stat().st_mode):
            try:
                text = path.read_text()
            except UnicodeDecodeError:
                return
            path.write_text(text.replace("{id0}", _kaggle_ids(w)[0]))
    return setup


def _png16(rel: str) -> Setup:
    def setup(w: Path, c: Path) -> None:
        import numpy as np
        from PIL import Image

        path = sorted(c.glob(rel))[0]
        Image.fromarray(np.asarray(Image.open(path)).astype(np.uint16) * 257).save(path)
    return setup


def _png_size(rel: str, side: int) -> Setup:
    def setup(w: Path, c: Path) -> None:
        from PIL import Image

        path = sorted(c.glob(rel))[0]
        Image.open(path).resize((side, side)).save(path)
    return setup


def _png_rgb(rel: str) -> Setup:
    def setup(w: Path, c: Path) -> None:
        from PIL import Image

        path = sorted(c.glob(rel))[0]
        Image.open(path).convert("RGB").save(path)
    return setup


def _twin(rel: str) -> Setup:
    def setup(w: Path, c: Path) -> None:
        import numpy as np
        import tifffile
        from PIL import Image

        path = sorted(c.glob(rel))[0]
        tifffile.imwrite(path.with_suffix(".tif"), np.asarray(Image.open(path)))
    return setup


def _signed_tif(rel: str) -> Setup:
    def setup(w: Path, c: Path) -> None:
        import numpy as np
        import tifffile
        from PIL import Image

        path = sorted(c.glob(rel))[0]
        tifffile.imwrite(path.with_suffix(".tif"), np.asarray(Image.open(path)).astype(np.int32) - 100)
        path.unlink()
    return setup


def _tif_dtype(rel: str, dtype: str) -> Setup:
    def setup(w: Path, c: Path) -> None:
        import numpy as np
        import tifffile

        for path in sorted(c.glob(rel)):
            tifffile.imwrite(path, tifffile.imread(path).astype(np.dtype(dtype)), photometric="minisblack")
    return setup


def _crop_png(rel: str) -> Setup:
    def setup(w: Path, c: Path) -> None:
        from PIL import Image

        path = sorted(c.glob(rel))[0]
        image = Image.open(path)
        image.crop((0, 0, image.width, image.height - 4)).save(path)
    return setup


def _crop_all(rel: str) -> Setup:
    def setup(w: Path, c: Path) -> None:
        from PIL import Image

        for path in sorted((c / rel).glob("*.png")):
            image = Image.open(path)
            image.crop((0, 0, image.width, image.height - 4)).save(path)
    return setup


def store_cases() -> list[Case]:
    st = copy_fx("store.zarr", "s.zarr")
    cases = [
        Case("info/ok", ["data", "info", "{W}/fx/store.zarr"], expect="ok", check=says("40")),
        Case("info/json", ["data", "info", "{W}/fx/store.zarr", "--json"], expect="ok", check=_info_json(40, 28)),
        Case("info/kaggle-store", ["data", "info", "{W}/fx/kaggle.zarr", "--json"], expect="ok", check=_info_json(6, 28)),
        Case("verify/ok", ["data", "verify", "{W}/fx/store.zarr"], expect="ok", check=says("OK (40 written samples")),
        Case("verify/ok-file-url", ["data", "verify", "file://{W}/fx/store.zarr"], expect="ok", check=says("OK")),
        Case("verify/ok-local-url", ["data", "verify", "local://{W}/fx/store.zarr"], expect="ok", check=says("OK")),
        Case("verify/memory-url", ["data", "verify", "memory://x.zarr"], expect="error"),
        Case("verify/unknown-proto", ["data", "verify", "zz://x.zarr"], expect="error"),
        Case("verify/missing", ["data", "verify", "{C}/nope.zarr"], expect="error"),
        Case("verify/file", ["data", "verify", "{C}/f"], write("f", "x"), expect="error"),
        Case("verify/empty-folder", ["data", "verify", "{C}/e"], lambda w, c: (c / "e").mkdir(), expect="error"),
        Case("info/missing", ["data", "info", "{C}/nope.zarr"], expect="error"),
        Case("info/file", ["data", "info", "{C}/f"], write("f", "x"), expect="error"),
        Case("info/empty-folder", ["data", "info", "{C}/e"], lambda w, c: (c / "e").mkdir(), expect="error"),
        Case("verify/workers-0", ["data", "verify", "{W}/fx/store.zarr", "--workers", "0"], expect="any"),
        Case("verify/workers-1000", ["data", "verify", "{W}/fx/store.zarr", "--workers", "1000"], expect="ok"),
    ]
    for rel in ("ids/c/0", "labels/c/0/0", "status/c/0", "digest/c/0", "images/16/c/0/0/0/0", "zarr.json",
                "labels/zarr.json", "images/16/zarr.json", "shard_manifest.json", "ids/zarr.json"):
        for how in ("flip", "truncate", "empty", "delete", "garbage"):
            for cmd in ("verify", "info"):
                # damage to pixels or metadata: verify must name it; info must not crash
                cases.append(Case(f"{cmd}/damaged/{rel}-{how}", ["data", cmd, "{C}/s.zarr"], chain(st, damage(f"s.zarr/{rel}", how)),
                                  expect="error" if cmd == "verify" else "any"))
    for tag, edit in (("cut-classes", lambda g: g.attrs.update(classes=list(g.attrs["classes"])[:5])),
                      ("no-classes", lambda g: g.attrs.__delitem__("classes")),
                      ("bad-resolutions", lambda g: g.attrs.update(resolutions=["x"])),
                      ("extra-resolution", lambda g: g.attrs.update(resolutions=[16, 64])),
                      ("bad-dtype", lambda g: g.attrs.update(dtype="int8")),
                      ("bad-channels", lambda g: g.attrs.update(channels=[1, 2])),
                      ("edited-label", lambda g: g["labels"].__setitem__((3, 4), not g["labels"][3, 4])),
                      ("dup-id", lambda g: g["ids"].__setitem__(1, g["ids"][0]))):
        cases.append(Case(f"verify/attrs/{tag}", ["data", "verify", "{C}/s.zarr"], chain(st, edit_zarr("s.zarr", edit)),
                          expect="error"))
        cases.append(Case(f"info/attrs/{tag}", ["data", "info", "{C}/s.zarr"], chain(st, edit_zarr("s.zarr", edit)),
                          expect="any"))
        cases.append(Case(f"verify-remote/attrs/{tag}", ["data", "verify", "local://{C}/s.zarr"],
                          chain(st, edit_zarr("s.zarr", edit)), expect="error"))
    # data split / stats / synth
    cases += [
        Case("split/ok", ["data", "split", "{C}/s.zarr"], st, expect="any"),
        Case("split/missing", ["data", "split", "{C}/nope.zarr"], expect="error"),
        Case("stats/ok", ["data", "stats", "{C}/s.zarr"], st, expect="any"),
        Case("stats/missing", ["data", "stats", "{C}/nope.zarr"], expect="error"),
        Case("synth/bad-n", ["data", "synth", "{C}/x.zarr", "--n", "-5"], expect="error"),
        Case("synth/bad-res", ["data", "synth", "{C}/x.zarr", "--resolutions", "zero"], expect="error"),
    ]
    return cases


def _info_json(n: int, k: int) -> Check:
    def check(w: Path, c: Path, output: str) -> str | None:
        try:
            data = json.loads(output[output.index("{"): output.rindex("}") + 1])
        except ValueError:
            return "no JSON in the output"
        text = json.dumps(data)
        if str(n) not in text:
            return f"{n} samples not in the JSON"
        classes = data.get("classes")
        if isinstance(classes, list) and len(classes) != k:
            return f"{len(classes)} classes, expected {k}"
        return None
    return check


def init_cases() -> list[Case]:
    return [
        Case("init/ok", ["init", "{W}/fx/store.zarr", "--out", "{C}/b.yaml"], expect="ok",
             check=lambda w, c, o: None if (c / "b.yaml").is_file() else "b.yaml not written"),
        Case("init/then-validate", ["validate", "{C}/b.yaml"], _init_then("b.yaml"), expect="ok", check=says("OK")),
        Case("init/exists", ["init", "{W}/fx/store.zarr", "--out", "{C}/b.yaml"], write("b.yaml", "keep me"),
             expect="error", protect=("{C}/b.yaml",)),
        Case("init/exists-force", ["init", "{W}/fx/store.zarr", "--out", "{C}/b.yaml", "--force"],
             write("b.yaml", "old"), expect="ok"),
        Case("init/missing-store", ["init", "{C}/nope.zarr", "--out", "{C}/b.yaml"], expect="error"),
        Case("init/not-a-store", ["init", "{C}/e", "--out", "{C}/b.yaml"], lambda w, c: (c / "e").mkdir(), expect="error"),
        Case("init/out-is-folder", ["init", "{W}/fx/store.zarr", "--out", "{C}"], expect="error"),
        Case("init/out-in-store", ["init", "{C}/s.zarr", "--out", "{C}/s.zarr/b.yaml"], copy_fx("store.zarr", "s.zarr"),
             expect="error"),
        Case("init/out-missing-parent", ["init", "{W}/fx/store.zarr", "--out", "{C}/a/b/c.yaml"], expect="any"),
        Case("init/damaged-store", ["init", "{C}/s.zarr", "--out", "{C}/b.yaml"],
             chain(copy_fx("store.zarr", "s.zarr"), damage("s.zarr/zarr.json", "garbage")), expect="error"),
        Case("init/memory", ["init", "memory://x.zarr"], expect="error"),
    ]


def _init_then(name: str) -> Setup:
    def setup(w: Path, c: Path) -> None:
        subprocess.run([sys.executable, "-m", "micro_bench", "init", str(w / "fx" / "store.zarr"), "--out", str(c / name)],
                       check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return setup


def predict_cases() -> list[Case]:
    run = copy_fx("runs", "runs")
    imgs = copy_fx("images", "imgs")
    both = chain(run, imgs)
    rd = "{C}/runs/probe_sk"
    base = ["predict", rd, "{C}/imgs", "--run", "a", "--out", "{C}/p.csv", "--workers", "0"]
    n_images = 6
    cases = [
        Case("predict/ok", base, both, expect="ok", check=csv_rows("p.csv", n_images), protect=("{C}/runs", "{C}/imgs")),
        Case("predict/readable", [*base, "--format", "readable", "--probabilities"], both, expect="ok",
             check=csv_rows("p.csv", n_images)),
        Case("predict/unknown-run", [*base[:3], "--run", "zzz", *base[5:]], both, expect="error"),
        Case("predict/not-a-run", ["predict", "{C}/imgs", "{C}/imgs", "--out", "{C}/p.csv"], both, expect="error"),
        Case("predict/src-missing", ["predict", rd, "{C}/nope", "--run", "a", "--out", "{C}/p.csv"], run, expect="error"),
        Case("predict/src-empty", ["predict", rd, "{C}/e", "--run", "a", "--out", "{C}/p.csv"],
             chain(run, lambda w, c: (c / "e").mkdir()), expect="error"),
        Case("predict/out-over-result", [*base[:5], "--out", "{C}/runs/probe_sk/index.json"], both, expect="error",
             protect=("{C}/runs",)),
        Case("predict/out-over-input", [*base[:5], "--out", "{C}/imgs/x_red.png"], chain(both, _first_png_as("x_red.png")),
             expect="error", protect=("{C}/imgs",)),
        Case("predict/out-in-store", [*base[:5], "--out", "{C}/s.zarr/p.csv"], chain(both, copy_fx("store.zarr", "s.zarr")),
             expect="error", protect=("{C}/s.zarr",)),
        Case("predict/out-is-folder", [*base[:5], "--out", "{C}/imgs"], both, expect="error", protect=("{C}/imgs",)),
        Case("predict/batch-0", [*base, "--batch-size", "0"], both, expect="error"),
        Case("predict/workers-neg", [*base[:-2], "--workers", "-1"], both, expect="error"),
        Case("predict/device-bogus", [*base, "--device", "tpu9"], both, expect="any"),  # a sklearn run has no device
        Case("predict/pattern-bogus", [*base, "--pattern", "{nope}"], both, expect="error"),
        Case("predict/pattern-abs", [*base, "--pattern", "/etc/{id}_{channel}.png"], both, expect="error"),
        Case("predict/pattern-dotdot", [*base, "--pattern", "../{id}_{channel}.png"], both, expect="error"),
        Case("predict/preview-n-0", [*base, "--preview", "{C}/prev", "--preview-n", "0"], both, expect="error"),
        Case("predict/format-bogus", [*base, "--format", "xml"], both, expect="error"),
    ]
    for tag, value, exp in (("neg", "-1", "error"), ("two", "2", "error"), ("word", "abc", "error"),
                            ("nan", "nan", "error"), ("tuned", "tuned", "any"), ("prevalence", "prevalence", "any"),
                            ("half", "0.5", "ok"), ("zero", "0", "any"), ("one", "1", "any")):
        cases.append(Case(f"predict/threshold-{tag}", [*base, "--threshold", value], both, expect=exp,
                          check=csv_rows("p.csv", n_images) if exp == "ok" else None))
    for tag, text, exp in (("strings", '{"values": ["a", "b"]}', "error"), ("short", "[0.5, 0.5]", "error"),
                           ("garbage", "\x00\x01", "error"), ("empty", "", "error"), ("neg", "[-1]", "error"),
                           ("csv-ok", "", "any")):
        if tag == "csv-ok":
            cases.append(Case(f"predict/threshold-file-{tag}", [*base, "--threshold", "{C}/t.csv"],
                              chain(both, _threshold_csv("t.csv", 0.5)), expect="any"))
            continue
        cases.append(Case(f"predict/threshold-file-{tag}", [*base, "--threshold", "{C}/t.json"],
                          chain(both, write("t.json", text)), expect=exp))
    for how in ("flip", "truncate", "empty", "garbage", "delete", "fifo"):
        cases.append(Case(f"predict/image-{how}", base, chain(both, damage("imgs/*_green.png", how)), expect="any",
                          codes=(3,), timeout=60))
    for rel, how in (("runs/probe_sk/*/model/model.json", "garbage"), ("runs/probe_sk/*/model/model.json", "delete"),
                     ("runs/probe_sk/*/result.json", "garbage"), ("runs/probe_sk/*/config.json", "garbage"),
                     ("runs/probe_sk/*/model/model.skops", "flip"), ("runs/probe_sk/*/model/stats.json", "garbage"),
                     ("runs/probe_sk/index.json", "garbage")):
        # predict reads the model card and the files it lists (checked by SHA-256), not result.json or config.json
        reads = rel.split("/")[-1] not in ("result.json", "config.json")
        cases.append(Case(f"predict/run-{rel.split('/')[-1]}-{how}", base, chain(both, damage(rel, how)),
                          expect="error" if reads else "any", check=None if reads else csv_rows("p.csv", n_images)))
    cases.append(Case("predict/model-json-edited", base,
                      chain(both, edit_json("runs/probe_sk/*/model/model.json", lambda d: {**d, "classes": d.get("classes", [])[:3]})),
                      expect="error"))
    return cases


def _first_png_as(name: str) -> Setup:
    def setup(w: Path, c: Path) -> None:
        shutil.copy(sorted((c / "imgs").glob("*.png"))[0], c / "imgs" / name)
    return setup


def _threshold_csv(name: str, value: float) -> Setup:
    def setup(w: Path, c: Path) -> None:
        (c / name).write_text("class,threshold\n" + "".join(f"{k},{value}\n" for k in range(28)))
    return setup


def export_cases() -> list[Case]:
    run = copy_fx("runs", "runs")
    truns = copy_fx("truns", "truns")
    sk = ["export", "{C}/runs/probe_sk", "--run", "a"]
    tr = ["export", "{C}/truns/probe_torch", "--run", "run0"]
    cases = [
        Case("export/sklearn-run", [*sk, "--format", "onnx", "--out", "{C}/m.onnx"], run, expect="error"),
        Case("export/format-bogus", [*sk, "--format", "keras"], run, expect="error"),
        Case("export/license-on-onnx", [*sk, "--format", "onnx", "--license", "MIT"], run, expect="error"),
        Case("export/license-bogus", [*sk, "--format", "bioimageio", "--license", "NOPE-1"], run, expect="error"),
        Case("export/check-samples-0", [*sk, "--format", "onnx", "--check-samples", "0"], run, expect="error"),
        Case("export/check-samples-huge", [*sk, "--format", "onnx", "--check-samples", "99999999"], run, expect="error"),
        Case("export/not-a-run", ["export", "{C}/e", "--format", "onnx"], lambda w, c: (c / "e").mkdir(), expect="error"),
        Case("export/unknown-label", ["export", "{C}/runs/probe_sk", "--run", "zz", "--format", "onnx"], run,
             expect="error"),
    ]
    outs = [("inside-run", "{C}/truns/probe_torch/m.pt"), ("folder", "{C}"), ("store", "{C}/s.zarr/m.pt"),
            ("onnx-suffix", "{C}/m.onnx"), ("zip-suffix", "{C}/m.zip"), ("file-parent", "{C}/f/m.pt"),
            ("fifo", "{C}/fifo.pt"), ("json-dir", "{C}/j.pt")]
    for tag, out in outs:
        def setup(w: Path, c: Path, tag: str = tag) -> None:
            truns(w, c)
            if tag == "store":
                copy_fx("store.zarr", "s.zarr")(w, c)
            if tag == "file-parent":
                (c / "f").write_text("x")
            if tag == "fifo":
                os.mkfifo(c / "fifo.pt")
            if tag == "json-dir":
                (c / "j.pt.json").mkdir()
        cases.append(Case(f"export/out-{tag}", [*tr, "--format", "torchscript", "--out", out], setup, expect="error",
                          cheap=False, protect=("{C}/truns",), timeout=120))
    cases += [
        Case("export/torchscript-ok", [*tr, "--format", "torchscript", "--out", "{C}/m.pt", "--check-samples", "2"], truns,
             expect="ok", cheap=False, check=_export_ok("m.pt"), protect=("{C}/truns",), timeout=240),
        Case("export/onnx-ok", [*tr, "--format", "onnx", "--out", "{C}/m.onnx", "--check-samples", "2"], truns,
             expect="ok", cheap=False, check=_export_ok("m.onnx"), timeout=300),
        Case("export/default-out", [*tr, "--format", "torchscript", "--check-samples", "2"], truns, expect="ok",
             cheap=False, timeout=240),
        Case("export/overwrite", [*tr, "--format", "torchscript", "--out", "{C}/m.pt", "--check-samples", "2"],
             chain(truns, write("m.pt", "old")), expect="ok", cheap=False, check=says("replaced the earlier export"),
             timeout=240),
        Case("export/model-json-edited", [*tr, "--format", "torchscript", "--out", "{C}/m.pt"],
             chain(truns, edit_json("truns/probe_torch/*/model/model.json", lambda d: {**d, "classes": ["x"]})),
             expect="error", cheap=False, timeout=240),
        Case("export/weights-flipped", [*tr, "--format", "torchscript", "--out", "{C}/m.pt"],
             chain(truns, damage("truns/probe_torch/*/model/*.pt", "flip")), expect="error", cheap=False, timeout=240),
    ]
    return cases


def _export_ok(name: str) -> Check:
    def check(w: Path, c: Path, output: str) -> str | None:
        path, record = c / name, c / f"{name}.json"
        if not path.is_file() or not record.is_file():
            return "export or its description missing"
        data = json.loads(record.read_text())
        if data.get("sha256") != hashlib.sha256(path.read_bytes()).hexdigest():
            return "description's SHA-256 differs from the file"
        return None if data["check"]["max_abs_diff"] <= data["check"]["tolerance"] else "check above tolerance"
    return check


def results_cases() -> list[Case]:
    run = copy_fx("runs", "runs")
    runs = "{C}/runs"
    cases = [
        Case("results/ok", ["results", runs], run, expect="ok", check=_results_rows(6)),  # 2 runs x 3 metrics
        Case("results/json", ["results", runs, "--format", "json", "--out", "{C}/r.json"], run, expect="ok",
             check=lambda w, c, o: None if len(json.loads((c / "r.json").read_text())) == 6 else "6 rows expected"),
        Case("results/parquet-stdout", ["results", runs, "--format", "parquet"], run, expect="error"),
        Case("results/out-over-result", ["results", runs, "--out", "{C}/runs/probe_sk/index.json"], run, expect="error",
             protect=("{C}/runs",)),
        Case("results/missing", ["results", "{C}/nope"], expect="error"),
        Case("results/empty", ["results", "{C}/e"], lambda w, c: (c / "e").mkdir(), expect="any"),
        Case("tables/ok", ["tables", runs, "--out", "{C}/t"], run, expect="ok",
             check=lambda w, c, o: None if (c / "t" / "probe_sk.md").is_file() else "probe_sk.md not written"),
        Case("tables/format-bogus", ["tables", runs, "--format", "docx"], run, expect="error"),
        Case("tables/out-is-file", ["tables", runs, "--out", "{C}/f"], chain(run, write("f", "keep")), expect="error",
             protect=("{C}/f",)),
        Case("tables/missing", ["tables", "{C}/nope"], expect="error"),
        Case("report/ok", ["report", runs, "--out", "{C}/r.html"], run, expect="ok",
             check=lambda w, c, o: None if (c / "r.html").stat().st_size > 500 else "report too small"),
        Case("report/out-over-input", ["report", runs, "--out", "{C}/runs/probe_sk/index.json"], run, expect="error",
             protect=("{C}/runs",)),
        Case("report/out-folder", ["report", runs, "--out", "{C}"], run, expect="error"),
        Case("compare/ok", ["compare", runs, "a", "b"], run, expect="any"),
        Case("compare/unknown-a", ["compare", runs, "zz", "b"], run, expect="error"),
        Case("compare/same", ["compare", runs, "a", "a"], run, expect="any"),
        Case("compare/metric-bogus", ["compare", runs, "a", "b", "--metric", "nope"], run, expect="error"),
        Case("compare/missing", ["compare", "{C}/nope", "a", "b"], expect="error"),
        Case("verify/runs-ok", ["verify", runs, "--strict"], run, expect="ok", check=says("2 run folder(s) OK, 0 problem")),
        Case("verify/runs-missing", ["verify", "{C}/nope"], expect="error"),
        Case("list/ok", ["list"], expect="ok"),
        Case("list/model", ["list", "model"], expect="ok"),
        Case("list/kind-bogus", ["list", "spaceship"], expect="error"),
        Case("list/timm-pattern", ["list", "model", "timm:resnet1*"], expect="ok", check=says("resnet1")),
        Case("plugins/ok", ["plugins"], expect="ok"),
        Case("help/root", ["--help"], expect="ok"),
        Case("unknown-command", ["frobnicate"], expect="error"),
    ]
    damages = [("result.json", h) for h in ("garbage", "empty", "delete", "flip")] + \
              [("config.json", h) for h in ("garbage", "delete")] + \
              [("predictions.npz", h) for h in ("garbage", "truncate", "delete", "flip")] + \
              [("model/model.json", h) for h in ("garbage", "delete")]
    for rel, how in damages:
        setup = chain(run, damage(f"runs/probe_sk/*/{rel}", how))
        tag = f"{rel.replace('/', '-')}-{how}"
        cases.append(Case(f"verify/runs-{tag}", ["verify", runs], setup, expect="error"))
        for cmd in (["results", runs], ["tables", runs, "--out", "{C}/t"], ["compare", runs, "a", "b"],
                    ["report", runs, "--out", "{C}/r.html"]):
            cases.append(Case(f"{cmd[0]}/runs-{tag}", cmd, setup, expect="any"))
    for tag, edit in (("metric-edited", lambda d: {**d, "metrics": {**d["metrics"], "f1_macro": 0.99}}),
                      ("key-other", lambda d: {**d, "key": "0" * 16}),
                      ("files-dropped", lambda d: {k: v for k, v in d.items() if k != "files"}),
                      ("thresholds-cut", lambda d: {**d, "thresholds": {"values": [0.5]}})):
        exp = "ok" if tag == "files-dropped" else "error"
        cases.append(Case(f"verify/runs-{tag}", ["verify", runs], chain(run, edit_json("runs/probe_sk/*/result.json", edit)),
                          expect=exp, check=says("unchecked") if exp == "ok" else None))
        cases.append(Case(f"verify/runs-strict-{tag}", ["verify", runs, "--strict"],
                          chain(run, edit_json("runs/probe_sk/*/result.json", edit)), expect="error"))
    for tag, edit in (("garbage", None), ("key-outside", lambda d: {**d, "rows": [{**r, "key": "../../../etc"} for r in d["rows"]]}),
                      ("rows-not-list", lambda d: {**d, "rows": 5})):
        setup = chain(run, damage("runs/probe_sk/index.json", "garbage")) if edit is None else \
            chain(run, edit_json("runs/probe_sk/index.json", edit))
        for cmd in (["verify", runs], ["results", runs], ["tables", runs, "--out", "{C}/t"], ["compare", runs, "a", "b"]):
            cases.append(Case(f"{cmd[0]}/index-{tag}", cmd, setup, expect="error" if cmd[0] == "verify" else "any"))
    cases.append(Case("verify/runs-fix-damaged", ["verify", runs, "--fix"], chain(run, damage("runs/probe_sk/*/result.json", "delete")),
                      expect="any", check=None))
    return cases


def _results_rows(n: int) -> Check:
    def check(w: Path, c: Path, output: str) -> str | None:
        rows = [line for line in output.splitlines() if line.strip() and "," in line]
        return None if len(rows) == n + 1 else f"{len(rows) - 1} CSV rows, expected {n}"
    return check


def all_cases(full: bool) -> list[Case]:
    cases = [*config_cases(), *yaml_file_cases(), *convert_cases(), *store_cases(), *init_cases(), *predict_cases(),
             *export_cases(), *results_cases()]
    ids = Counter(c.id for c in cases)
    dup = [i for i, n in ids.items() if n > 1]
    assert not dup, f"duplicate case ids: {dup}"
    return cases if full else [c for c in cases if c.cheap]


# --- running -----------------------------------------------------------------------------------


def _fmt(arg: str, w: Path, c: Path) -> str:
    return arg.replace("{W}", str(w)).replace("{C}", str(c))


def _snapshot(root: Path, digests: bool = False) -> dict[str, tuple]:
    """Every file under ``root``: (size, mtime_ns, inode[, sha256]); a write changes the mtime."""
    out: dict[str, tuple] = {}
    if root.is_file():
        paths = [root]
    elif root.is_dir():
        paths = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    else:
        return {}
    for p in paths:
        st_ = p.stat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if digests else ""
        out[str(p)] = (st_.st_size, st_.st_mtime_ns, st_.st_ino, digest)
    return out


def _child(case: Case, w: Path, c: Path, fd: int) -> None:
    os.setpgid(0, 0)
    os.chdir(c)
    try:
        from click.testing import CliRunner

        from micro_bench_commands.cli import cli

        if case.setup is not None:
            case.setup(w, c)
        before = {p: _snapshot(Path(_fmt(p, w, c)), digests=True) for p in case.protect}
        result = CliRunner().invoke(cli, [_fmt(a, w, c) for a in case.argv], catch_exceptions=True)
        exc = result.exception
        payload = {"exit": result.exit_code, "output": result.output[-6000:],
                   "escaped": None if exc is None or isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"[:500]}
        if result.exit_code == 0 and case.check is not None:
            payload["wrong"] = case.check(w, c, result.output)
        changed = [p for p in case.protect if _snapshot(Path(_fmt(p, w, c)), digests=True) != before[p]]
        payload["changed"] = changed
    except BaseException as error:  # noqa: BLE001 - the probe's own set-up failing is reported
        import traceback

        payload = {"exit": None, "output": "", "probe_error": "".join(traceback.format_exception(error))[-3000:]}
    data = json.dumps(payload).encode()
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os._exit(0)


def run_case(case: Case, w: Path) -> dict[str, Any]:
    c = w / "cases" / case.id.replace("/", "__").replace(" ", "_")[:150]
    if c.exists():
        shutil.rmtree(c, ignore_errors=True)
    c.mkdir(parents=True)
    r, wfd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        _child(case, w, c, wfd)
    os.close(wfd)
    chunks, hung = [], False
    deadline = start + case.timeout
    with os.fdopen(r, "rb") as fh:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                hung = True
                break
            ready, _, _ = select.select([fh], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(fh.fileno(), 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    if hung:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    # whatever the case started in its process group goes too
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    seconds = time.monotonic() - start
    record: dict[str, Any] = {"id": case.id, "argv": [_fmt(a, w, c) for a in case.argv], "expect": case.expect,
                              "cheap": case.cheap, "seconds": round(seconds, 2)}
    if hung:
        record.update(outcome="hang", why=f"no answer within {case.timeout:g} s")
        return record
    try:
        payload = json.loads(b"".join(chunks).decode() or "{}")
    except ValueError:
        payload = {}
    if not payload:
        record.update(outcome="traceback", why=f"the command's process died ({status})")
        return record
    if payload.get("probe_error"):
        record.update(outcome="probe_error", why=payload["probe_error"])
        return record
    record.update(exit=payload["exit"], output=payload["output"][-1500:])
    record.update(classify(case, payload))
    return record


def classify(case: Case, p: dict[str, Any]) -> dict[str, str]:
    text, code = p["output"], p["exit"]
    if p.get("escaped") or "Traceback (most recent call last)" in text or "internal error" in text or code == 70:
        return {"outcome": "traceback", "why": p.get("escaped") or "traceback or internal error in the output"}
    if p.get("changed"):
        return {"outcome": "loss", "why": f"changed: {p['changed']}"}
    if code == 0 or code in case.codes:
        if case.expect == "error" and code == 0:
            return {"outcome": "silent_wrong", "why": "exit 0 for input the case expects refused"}
        if p.get("wrong"):
            return {"outcome": "silent_wrong", "why": str(p["wrong"])}
        return {"outcome": "clean", "why": "ok"}
    errors = [line for line in text.splitlines() if line.startswith("Error:")]
    if case.expect == "ok":
        return {"outcome": "clean" if len(errors) == 1 else "unclear",
                "why": f"refused where the case expects success: {errors[:1]}", "refused_good": "yes"}
    if len(errors) != 1:
        return {"outcome": "unclear", "why": f"exit {code} with {len(errors)} Error: line(s)"}
    return {"outcome": "clean", "why": errors[0][:300]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("probe-report.json"))
    parser.add_argument("--cheap", action="store_true", help="only the cases that train nothing")
    parser.add_argument("--expensive", action="store_true", help="only the cases that train (the rest of the probe)")
    parser.add_argument("--only", default=None, help="only cases whose id contains this")
    parser.add_argument("--rerun", type=Path, default=None, help="only the cases a previous report has not clean")
    parser.add_argument("--every", type=int, default=1, help="only every N-th case (a stable sample; the test suite's)")
    parser.add_argument("--work", type=Path, default=None, help="workspace (default: a temporary folder, removed)")
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("--build-fixtures", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--full-fixtures", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    if args.build_fixtures is not None:
        build_fixtures(args.build_fixtures, args.full_fixtures)
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="micro-bench-probe-"))
    work = work.resolve()
    os.environ["MICRO_BENCH_CACHE"] = str(work / "cache")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])
    cases = all_cases(full=not args.cheap)
    if args.expensive:
        cases = [c for c in cases if not c.cheap]
    if args.only:
        cases = [c for c in cases if args.only in c.id]
    if args.rerun is not None:
        previous = json.loads(args.rerun.read_text())["records"]
        wanted = {r["id"] for r in previous if r["outcome"] != "clean"}
        cases = [c for c in cases if c.id in wanted]
    cases = cases[:: max(args.every, 1)]
    t0 = time.monotonic()
    if not (work / "fx" / "runs").is_dir() or (not args.cheap and not (work / "fx" / "truns").is_dir()):
        shutil.rmtree(work / "fx", ignore_errors=True)
        subprocess.run([sys.executable, __file__, "--build-fixtures", str(work)] + ([] if args.cheap else ["--full-fixtures"]),
                       check=True)
    fixtures = _snapshot(work / "fx")
    # import what the cases use once, here: each forked case then starts at once
    import importlib

    for module in ("click.testing", "micro_bench_commands.cli", "numpy", "zarr", "PIL.Image", "tifffile", "sklearn",
                   "torch", "timm", "dask", "yaml"):
        with contextlib.suppress(ImportError):  # an optional library missing: the cases import it themselves
            importlib.import_module(module)
    records = []
    for i, case in enumerate(cases, 1):
        record = run_case(case, work)
        now = _snapshot(work / "fx")
        if now != fixtures and record["outcome"] not in ("traceback", "hang"):
            changed = sorted(k for k in set(now) | set(fixtures) if now.get(k) != fixtures.get(k))
            record.update(outcome="loss", why=f"a shared fixture changed: {changed[:3]}")
        if now != fixtures:  # restore for the next cases
            fixtures = now
        records.append(record)
        if args.verbose or record["outcome"] != "clean":
            print(f"[{i}/{len(cases)}] {record['outcome']:12} {case.id}  {record.get('why', '')[:200]}", flush=True)
    counts = Counter(r["outcome"] for r in records)
    report = {"cases": len(records), "counts": dict(counts), "seconds": round(time.monotonic() - t0, 1),
              "mode": "cheap" if args.cheap else "full", "records": records}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{len(records)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f" -> {args.out}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(counts.get(k) for k in (*BAD, "probe_error")) else 0


if __name__ == "__main__":
    sys.exit(main())
