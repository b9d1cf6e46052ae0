"""Hypothesis fuzzing of the benchmark loader: every input either validates or gives one
located error line (exit 1); never a traceback (the CLI's bug path, exit 70)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micro_bench.config import load_config
from micro_bench.errors import ConfigError

from .conftest import invoke

GOOD = """\
version: 1
name: toybench
dataset: {name: hpa_synth, n: 40, resolution: 32}
model: {name: logreg, C: 0.1}
trainer: {name: sklearn}
split: {method: multilabel_stratified, fractions: [0.8, 0.1, 0.1], seed: 0}
evaluate: {split: val, threshold: 0.5}
metrics: [f1_macro, roc_auc_macro]
runs:
  - {label: a}
  - {label: b, model: {C: 1.0}}
profiles:
  smoke: {dataset: {n: 20}}
"""
FAST, SLOW = (settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None)
              for n in (40, 400))
YAML_BITS = st.sampled_from(list(":-[]{},&*!|>'\"%@`#?\n\t ") + ["<<: ", "!!timestamp ", "!!binary ",
                                                                  "!!set ", "&a ", "*a", "~", ".nan", "1e999",
                                                                  "\u00e9", "\x00", "\ufeff", "0x1F", "yes"])


def _check(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_bytes(data)
        try:
            load_config(path)
        except ConfigError as err:
            assert str(path) in str(err), err
        result = invoke("validate", str(path))
        assert result.exit_code in (0, 1), result.output
        assert "Traceback" not in result.output, result.output
        if result.exit_code == 1:
            assert sum(line.startswith("Error:") for line in result.output.splitlines()) == 1, result.output


def mutated_benchmark_text(data: st.DataObject) -> None:
    text = GOOD.encode()
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "byte", "dupline"]))
        if op == "insert":
            text = text[:at] + data.draw(YAML_BITS).encode() + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + data.draw(st.integers(1, 20)):]
        elif op == "byte":
            text = text[:at] + bytes([data.draw(st.integers(0, 255))]) + text[at + 1:]
        else:
            lines = text.split(b"\n")
            i = data.draw(st.integers(0, len(lines) - 1))
            text = b"\n".join(lines[: i + 1] + [lines[i]] + lines[i + 1:])
    _check(text)


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["hpa_synth", "logreg", "val", "tuned", "../x"]))
VALUES = st.recursive(SCALARS, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8) | st.sampled_from(
        ["name", "n", "C", "fractions", "method", "split", "threshold", "label", "seed"]), kids, max_size=4)),
    max_leaves=20)
KEYS = st.sampled_from(["version", "name", "title", "seed", "dataset", "model", "trainer", "loss", "split",
                        "evaluate", "metrics", "runs", "reference", "profiles", "table", "scheduler", "tta", "zzz"])


def generated_structures_over_a_good_file(patch: dict) -> None:
    base = yaml.safe_load(GOOD)
    base.update(patch)
    _check(yaml.safe_dump(base, allow_unicode=True).encode())


test_mutated_benchmark_text = FAST(given(st.data())(mutated_benchmark_text))
test_generated_structures = FAST(given(st.dictionaries(KEYS, VALUES, max_size=4))(generated_structures_over_a_good_file))
test_mutated_benchmark_text_many = pytest.mark.slow(SLOW(given(st.data())(mutated_benchmark_text)))
test_generated_structures_many = pytest.mark.slow(
    SLOW(given(st.dictionaries(KEYS, VALUES, max_size=4))(generated_structures_over_a_good_file)))
