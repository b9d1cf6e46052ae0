"""Label tables of any layout for ``data convert --labels``: CSV or TSV, an id column and either
one label column (class names or integer indices, split by a separator) or one-hot columns.

Every problem is one :class:`~micro_bench_hpa.readers.SourceError` line naming the file, the row
(its line number) and the value: an unknown class or an index out of range is never mapped
silently.

Class list: ``classes`` (from ``--classes``) in that order; else, for name labels, the sorted
distinct names; for integer labels, ``"0" .. str(max)``; for one-hot columns, the columns in order.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from micro_bench_hpa.readers import SourceError

__all__ = ["LabelSpec", "LabelTable", "parse_class_list", "read_label_table"]


@dataclass(frozen=True)
class LabelSpec:
    """How to read a label table.

    Attributes:
        id_column: the id column's name, or its 0-based index as a string of digits.
        label_column: the label column (name or index); ``None`` with one-hot columns.
        separator: between labels in one cell (``" "``: any whitespace).
        label_columns: one-hot columns by name; ``()`` with ``one_hot``: every column but the id.
        one_hot: labels are 0/1 columns.
        classes: the class list in order, or ``None`` (see the module doc).
        delimiter: the table's field delimiter; ``None``: tab for ``.tsv``/``.tab``, else comma.
    """

    id_column: str = "Id"
    label_column: str | None = "Target"
    separator: str = " "
    label_columns: tuple[str, ...] = ()
    one_hot: bool = False
    classes: tuple[str, ...] | None = None
    delimiter: str | None = None


@dataclass
class LabelTable:
    """``ids`` (N) in file order, ``labels`` ``(N, K) bool``, ``classes`` (K), ``rows`` (line numbers)."""

    path: Path
    ids: list[str]
    labels: np.ndarray
    classes: list[str]
    rows: list[int] = field(default_factory=list)


def parse_class_list(text: str) -> list[str]:
    """``--classes``: a file (one name a line, or a CSV/TSV whose first column is the names) or
    ``a,b,c``; names stripped, unique, non-empty."""
    path = Path(text)
    if path.is_file():
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"{path}: cannot read the class list ({exc})") from None
        names = [line.split("\t")[0].split(",")[0].strip() if path.suffix.lower() in (".csv", ".tsv") else line.strip()
                 for line in lines]
        names = [n for n in names if n]
        where = str(path)
    else:
        names, where = [n.strip() for n in text.split(",")], "--classes"
        if any(not n for n in names):
            raise SourceError(f"--classes {text!r}: an empty class name; expected a file or names like a,b,c")
    if len(names) < 1:
        raise SourceError(f"{where}: no class names")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SourceError(f"{where}: class {dup[0]!r} listed {names.count(dup[0])} times; names must be unique")
    return names


def _column(header: list[str], spec: str, path: Path, what: str) -> int:
    if spec in header:
        return header.index(spec)
    if spec.isdigit() and int(spec) < len(header):
        return int(spec)
    raise SourceError(f"{path}: no {what} column {spec!r}; the header has {', '.join(map(repr, header))}")


def _read_rows(path: Path, delimiter: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = [h.strip() for h in next(reader, [])]
            rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save it as UTF-8") from None
    except csv.Error as exc:
        raise SourceError(f"{path}: malformed table ({exc})") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not header or not any(header):
        raise SourceError(f"{path}: empty file; expected a header row and one row per sample")
    return header, rows


def _cell(row: list[str], col: int, path: Path, line: int, header: list[str]) -> str:
    if col >= len(row):
        raise SourceError(f"{path}:{line}: {len(row)} field(s), no column {header[col]!r}")
    return row[col].strip()


def _one_hot(path: Path, header: list[str], rows: list[tuple[int, list[str]]], id_col: int,
             spec: LabelSpec) -> tuple[list[str], list[list[int]]]:
    names = list(spec.label_columns) or [h for i, h in enumerate(header) if i != id_col]
    cols = [_column(header, n, path, "label") for n in names]
    classes = [header[c] for c in cols]
    targets = []
    for line, row in rows:
        sid = _cell(row, id_col, path, line, header)
        hot = []
        for k, c in enumerate(cols):
            value = _cell(row, c, path, line, header)
            if value not in ("0", "1", "0.0", "1.0", "true", "false", "True", "False"):
                raise SourceError(f"{path}:{line}: id {sid}: column {header[c]!r} is {value!r}; expected 0 or 1")
            if value in ("1", "1.0", "true", "True"):
                hot.append(k)
        targets.append(hot)
    return classes, targets


def _tokens(cell: str, separator: str) -> list[str]:
    parts = cell.split() if separator.strip() == "" else cell.split(separator)
    return [p.strip() for p in parts if p.strip()]


def read_label_table(path: str | Path, spec: LabelSpec) -> LabelTable:
    """Read ``path`` by ``spec``: ids, ``(N, K) bool`` labels and the class list."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: label table not found")
    delimiter = spec.delimiter or ("\t" if path.suffix.lower() in (".tsv", ".tab") else ",")
    header, rows = _read_rows(path, delimiter)
    id_col = _column(header, spec.id_column, path, "id")
    ids = [_cell(row, id_col, path, line, header) for line, row in rows]
    for (line, _), sid in zip(rows, ids, strict=True):
        if not sid:
            raise SourceError(f"{path}:{line}: empty id")
        if not sid.isprintable():  # a quoted field may hold a line break or tab: ids name files
            raise SourceError(f"{path}:{line}: id {sid!r} holds a control character (line break, tab); "
                              "ids name image files")
    first: dict[str, int] = {}
    for (line, _), sid in zip(rows, ids, strict=True):
        if sid in first:
            raise SourceError(f"{path}:{line}: id {sid} also on line {first[sid]}; ids must be unique")
        first[sid] = line
    if spec.one_hot or spec.label_columns:
        classes, targets = _one_hot(path, header, rows, id_col, spec)
        if spec.classes is not None and list(spec.classes) != classes:
            raise SourceError(f"{path}: one-hot columns {classes} differ from --classes {list(spec.classes)}")
    else:
        if spec.label_column is None:
            raise SourceError(f"{path}: no label column given (--label-column NAME, or one-hot --label-columns)")
        col = _column(header, spec.label_column, path, "label")
        cells = [_tokens(_cell(row, col, path, line, header), spec.separator) for line, row in rows]
        classes, targets = _resolve(path, rows, ids, cells, spec.classes, header[col])
    if len(classes) < 1:
        raise SourceError(f"{path}: no classes found")
    labels = np.zeros((len(ids), len(classes)), dtype=bool)
    for i, hot in enumerate(targets):
        labels[i, hot] = True
    return LabelTable(path=path, ids=ids, labels=labels, classes=classes, rows=[line for line, _ in rows])


def _resolve(path: Path, rows: list[tuple[int, list[str]]], ids: list[str], cells: list[list[str]],
             classes: Sequence[str] | None, column: str) -> tuple[list[str], list[list[int]]]:
    """Class indices of each row's tokens: names of ``classes`` or integer indices into it."""
    if classes is None:
        tokens = {t for cell in cells for t in cell}
        if tokens and all(_is_index(t) for t in tokens):
            classes = [str(i) for i in range(max(int(t) for t in tokens) + 1)]
        else:
            classes = sorted(tokens)
    classes = list(classes)
    index = {name: k for k, name in enumerate(classes)}
    targets = []
    for (line, _), sid, cell in zip(rows, ids, cells, strict=True):
        hot = []
        for t in cell:
            if t in index:
                hot.append(index[t])
            elif _is_index(t):
                if int(t) >= len(classes):
                    raise SourceError(f"{path}:{line}: id {sid}: {column} index {t} out of range 0-{len(classes) - 1} "
                                      f"({len(classes)} classes)")
                hot.append(int(t))
            else:
                raise SourceError(f"{path}:{line}: id {sid}: {column} {t!r} is not one of the {len(classes)} classes "
                                  f"({', '.join(classes[:6])}{', ...' if len(classes) > 6 else ''})")
        targets.append(sorted(set(hot)))
    return classes, targets


def _is_index(token: str) -> bool:
    return token.isdigit() and token.isascii()
