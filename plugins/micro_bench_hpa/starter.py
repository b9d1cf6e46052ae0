"""``micro-bench init STORE [--out FILE]``: a starter benchmark for a converted store.

The file compares logistic regression, a random forest and a ResNet (timm's ResNet-10-T from
scratch) on the store's classes and channels, evaluated on the validation split, in a per-class
table with the store's class names. Its ``smoke`` profile trains briefly at the store's smallest
resolution on one CPU thread, so ``micro-bench run FILE --profile smoke`` finishes in minutes on a
laptop; without a profile the rows train at the sizes a real comparison needs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["starter_benchmark", "write_starter"]

METRICS = ["precision_macro", "recall_macro", "f1_macro", "roc_auc_macro", "pr_auc_macro",
           "precision_micro", "recall_micro", "f1_micro", "roc_auc_micro", "hamming_loss",
           "per_class_precision", "per_class_recall", "per_class_f1", "per_class_support"]


def _flow(value: Any) -> str:
    """A YAML flow value (JSON is YAML; names quoted)."""
    import json

    return json.dumps(value, ensure_ascii=False)


def _name(store: Path) -> str:
    stem = store.name.removesuffix(".zarr") or "my_data"
    cleaned = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in stem)
    return cleaned if cleaned[:1].isalpha() else f"data_{cleaned}"


def starter_benchmark(store: str | Path, out: str | Path) -> str:
    """The YAML text of the starter benchmark for ``store``, to be written at ``out`` (the store
    path is written relative to the file's folder)."""
    from micro_bench_hpa.info import describe_store

    info = describe_store(store)
    if info["pending"]:
        from micro_bench_hpa.store import StoreError

        raise StoreError(f"{store}: conversion unfinished ({info['pending']} samples pending); run the same "
                         "`micro-bench data convert` command again first")
    res = sorted(info["resolutions"])
    small = res[0]
    net = max((r for r in res if r <= 256), default=small)
    base = small if small <= 64 or small % 64 else 64  # the baselines' feature side divides the image side
    where = Path(os.path.relpath(Path(store).resolve(), Path(out).resolve().parent)).as_posix()
    name = _name(Path(store))
    k, c = len(info["classes"]), len(info["channels"])
    lines = [
        f"# Starter benchmark for {Path(store).name}: {info['n']} samples, {k} classes, {c} channels "
        f"({', '.join(info['channels'])}), {info['dtype']}.",
        "# Made by `micro-bench init`; edit freely (docs/config.md). Run the quick check with",
        f"#   micro-bench run {Path(out).name} --profile smoke",
        "# and the full comparison without --profile. The table lists precision, recall and F1 per class.",
        "version: 1",
        f"name: {name}",
        f"title: {_flow(f'{name}: logistic regression, random forest and a ResNet, validation set')}",
        "seed: 0",
        f"dataset: {{name: images, store: {_flow(where)}, resolution: {small}}}",
        "split: {method: multilabel_stratified, fractions: [0.8, 0.1, 0.1], seed: 0}",
        "model: {name: logreg, C: 0.1, solver: lbfgs, max_iter: 200}",
        f"trainer: {{name: sklearn, n_jobs: -1, resolution: {base}}}",
        "loss: null",
        "scheduler: null",
        "transform: null",
        "tta: null",
        "evaluate: {split: val, threshold: 0.5}",
        f"metrics: {_flow(METRICS)}",
        "table: {kind: per_class, metrics: [per_class_precision, per_class_recall, per_class_f1]}",
        "runs:",
        "  - {label: logistic regression}",
        "  - {label: random forest, model: {name: random_forest, n_estimators: 100, min_samples_leaf: 1}}",
        "  - label: ResNet-10-T",
        f"    dataset: {{resolution: {net}}}",
        '    model: {name: "timm:resnet10t", pretrained: false, dropout: 0.5, head: linear}',
        "    trainer: {name: torch, batch_size: 32, lr: 0.003, freeze_epochs: 0, epochs: 30}",
        "    loss: bce",
        "    scheduler: {name: constant}",
        "    transform: {name: fastai}",
        "    tta: {name: flips, reduce: mean}",
        "profiles:",
        "  # A few minutes on a laptop CPU: the smallest stored resolution, 20 trees, 4 epochs on one thread.",
        "  smoke:",
        "    runs:",
        "      random forest: {model: {n_estimators: 20}}",
        f"      ResNet-10-T: {{dataset: {{resolution: {small}}}, trainer: {{epochs: 4, threads: 1, batch_size: 16}}, "
        "tta: null}",
    ]
    return "\n".join(lines) + "\n"


def write_starter(store: str | Path, out: str | Path, *, force: bool = False) -> Path:
    """Write :func:`starter_benchmark` to ``out`` atomically; an existing file only with ``force``."""
    from micro_bench.errors import MicroBenchError
    from micro_bench.results import atomic_write_text

    out = Path(out)
    if out.exists() and not force:
        raise MicroBenchError(f"{out}: exists; choose another --out or pass --force to replace it")
    if out.exists() and out.is_dir():
        raise MicroBenchError(f"{out}: is a folder; --out names the benchmark file to write (e.g. my_data.yaml)")
    for folder in out.resolve().parents:  # never inside a store or a results folder micro-bench wrote
        if any((folder / name).is_file() for name in ("zarr.json", "result.json", "index.json")):
            raise MicroBenchError(f"--out {out}: inside {folder}, which micro-bench wrote; write the benchmark elsewhere")
    text = starter_benchmark(store, out)
    atomic_write_text(out, text)
    return out
