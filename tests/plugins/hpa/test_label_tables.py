"""Hypothesis over the label-table parser (issue 23): any class list and label sets, written as
names, as indices, with any separator or as one-hot columns, read back to the same ``(N, K)``
labels and class list."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from micro_bench_hpa.labels import LabelSpec, parse_class_list, read_label_table

NAME = st.text(alphabet=st.sampled_from(list("abcdefgh XYZ-_&é")), min_size=1, max_size=10).map(str.strip).filter(
    lambda s: bool(s) and not s.isdigit())


@st.composite
def datasets(draw):
    classes = draw(st.lists(NAME, min_size=2, max_size=12, unique=True))
    n = draw(st.integers(1, 15))
    labels = np.array(draw(st.lists(st.lists(st.booleans(), min_size=len(classes), max_size=len(classes)),
                                    min_size=n, max_size=n)), dtype=bool)
    return classes, labels


def _write(text: str, suffix: str = ".csv") -> Path:
    folder = Path(tempfile.mkdtemp())
    path = folder / f"labels{suffix}"
    path.write_text(text, encoding="utf-8")
    return path


@settings(max_examples=60, deadline=None)
@given(data=datasets(), sep=st.sampled_from(["|", ";", " "]), as_index=st.booleans())
def test_label_column_round_trip(data, sep, as_index):
    classes, labels = data
    if sep == " " and not as_index and any(" " in c for c in classes):
        sep = "|"
    ids = [f"s{i}" for i in range(len(labels))]
    cells = [sep.join(str(k) if as_index else classes[k] for k in np.flatnonzero(row)) for row in labels]
    path = _write("Id,Target\n" + "".join(f'{i},"{c}"\n' for i, c in zip(ids, cells, strict=True)))
    table = read_label_table(path, LabelSpec(separator=sep, classes=tuple(classes)))
    assert table.ids == ids and table.classes == classes
    assert np.array_equal(table.labels, labels)


@settings(max_examples=40, deadline=None)
@given(data=datasets())
def test_one_hot_round_trip_and_class_order(data):
    classes, labels = data
    if any("," in c or '"' in c for c in classes):
        return
    ids = [f"s{i}" for i in range(len(labels))]
    rows = ["\t".join([sid, *("1" if v else "0" for v in row)]) for sid, row in zip(ids, labels, strict=True)]
    path = _write("\t".join(["id", *classes]) + "\n" + "\n".join(rows) + "\n", ".tsv")
    table = read_label_table(path, LabelSpec(id_column="id", one_hot=True))
    assert table.classes == classes and np.array_equal(table.labels, labels)
    # without --classes, the names used are sorted and the columns follow (none used: refused)
    if not labels.any():
        return
    cells = ["|".join(classes[k] for k in np.flatnonzero(row)) for row in labels]
    path = _write("Id,Target\n" + "".join(f'{i},"{c}"\n' for i, c in zip(ids, cells, strict=True)))
    table = read_label_table(path, LabelSpec(separator="|"))
    used = sorted({classes[k] for k in np.flatnonzero(labels.any(axis=0))})
    assert table.classes == used
    order = [classes.index(c) for c in used]
    assert np.array_equal(table.labels, labels[:, order])


def test_class_list_file_and_inline(tmp_path):
    (tmp_path / "classes.txt").write_text("alpha\nbeta\n\ngamma\n")
    assert parse_class_list(str(tmp_path / "classes.txt")) == ["alpha", "beta", "gamma"]
    assert parse_class_list("a, b ,c") == ["a", "b", "c"]
