"""Bad benchmark files: each one a single located error line from ``micro-bench validate``."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import assert_user_error, invoke

GOOD = """\
version: 1
name: toybench
dataset: {name: hpa_synth, n: 40, resolution: 32}
model: {name: logreg, C: 0.1}
trainer: {name: sklearn}
evaluate: {split: val, threshold: 0.5}
metrics: [f1_macro]
runs:
  - {label: a}
"""

# (file text or bytes, text the one error line must contain)
CASES = {
    "duplicate_key": (GOOD.replace("name: toybench", "name: toybench\nname: other"), "duplicate key 'name' (first at line 2)"),
    "duplicate_nested_key": (GOOD.replace("{name: logreg, C: 0.1}", "{name: logreg, C: 0.1, C: 1}"), "duplicate key 'C'"),
    "latin1": (GOOD.replace("name: toybench", "title: caf\u00e9").encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    "binary": (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "binary file"),
    "deep_flow": ("version: 1\nx: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 64 levels"),
    "deep_block": ("version: 1\n" + "".join(" " * i + f"k{i}:\n" for i in range(200)), "nested deeper"),
    "billion_laughs": ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True)), "expands to more than"),
    "timestamp": (GOOD.replace("C: 0.1", "C: 2001-12-14"), "model.C: a YAML date is not supported"),
    "int_key": (GOOD.replace("C: 0.1", "1: 0.1"), "key 1 is a int, expected a string"),
    "name_traversal": (GOOD.replace("name: toybench", "name: ../../x"), "name '../../x': expected a plain identifier"),
    "name_absolute": (GOOD.replace("name: toybench", "name: /tmp/x"), "expected a plain identifier"),
    "reference_absolute": (GOOD + "reference: /etc/hostname\n", "'/etc/hostname' is absolute"),
    "reference_escape": (GOOD + "reference: ../../../etc/hostname\n", "leaves the benchmark file's folder"),
    "split_method": (GOOD + "split: {method: kfold}\n", "split.method: unknown split method 'kfold'"),
    "empty_val": (GOOD + "split: {fractions: [1, 0, 0]}\n", "the val part is empty"),
    "empty_train": (GOOD + "split: {fractions: [0, 0.5, 0.5]}\n", "the train part is empty"),
    "tab_indent": ("version: 1\n\tname: x\n", "line 2"),
    "not_mapping": ("- 1\n- 2\n", "expected a mapping at the top level"),
    "empty_file": ("", "expected a mapping at the top level"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_benchmark_file_is_one_located_error(tmp_path: Path, case: str) -> None:
    text, needle = CASES[case]
    path = tmp_path / "bench.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    assert_user_error(invoke("validate", str(path)), str(path), needle)


def test_good_file_still_validates_with_bom_and_aliases(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    text = GOOD.replace("model: {name: logreg, C: 0.1}", "base: &m {name: logreg, C: 0.1}\nmodel: {<<: *m, C: 1}")
    text = text.replace("base:", "description:")  # a key the schema allows
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output


def test_bad_set_value_is_one_located_error(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert_user_error(invoke("validate", str(path), "--set", "model.C=2001-01-01"), "--set 'model.C=2001-01-01'")
    assert_user_error(invoke("validate", str(path), "--set", "model.C={a: 1, a: 2}"), "duplicate key 'a'")


def test_missing_and_folder_benchmark_file(tmp_path: Path) -> None:
    assert_user_error(invoke("validate", str(tmp_path / "nope.yaml")), "nope.yaml")
    assert_user_error(invoke("validate", str(tmp_path)), str(tmp_path))
