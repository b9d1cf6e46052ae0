"""Docs that match the code: links resolve, numbers come from one place, the quickstart's output
is what the code prints for the committed smoke results.

``MICRO_BENCH_UPDATE_DOCS=1 pytest tests/stories/test_docs_consistency.py`` rewrites the generated blocks
(after regenerating ``benchmarks/results/smoke``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = sorted([REPO / "README.md", REPO / "CHANGELOG.md", REPO / "data" / "README.md",
               *(REPO / "docs").glob("*.md")])
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [a or b for a, b in LINK.findall(text)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(doc):
    broken = []
    for target in _links(doc):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not checked offline
            continue
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists() or anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{doc.relative_to(REPO)}: broken links {broken}"


def _number(name: str) -> list[tuple[Path, str]]:
    pattern = re.compile(rf"<!-- number:{name} -->(.*?)<!-- /number -->", re.S)
    return [(doc, m.group(1)) for doc in DOCS for m in pattern.finditer(doc.read_text(encoding="utf-8"))]


def test_the_download_size_is_stated_once():
    places = _number("download")
    assert [doc.name for doc, _ in places] == ["data.md"]
    size = places[0][1]
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8").replace(size, "")
        assert not re.search(r"\b\d+ GB (?:HPA )?download|download[^.\n]{0,40}\b\d+ GB", text), doc


def test_store_size_per_sample_follows_the_store_layout():
    from micro_bench_hpa.synth.labels import load_hpa_labels

    (doc, text), = _number("store")
    per_sample = 4 * sum(r * r for r in (512, 256, 64))  # uint8, 4 channels, no compressor
    n = len(load_hpa_labels()[0])
    assert f"{per_sample / 1e6:.2f} MB per sample" in text
    assert f"{per_sample * n / 1e9:.1f} GB for {n:,} samples" in text


def test_store_images_are_uncompressed_one_byte_per_pixel(tmp_path):
    from micro_bench_hpa.store import open_store
    from micro_bench_hpa.synth.generate import generate_store

    generate_store(tmp_path / "s.zarr", n=3, resolutions=(16, 8), seed=0)
    group = open_store(tmp_path / "s.zarr")
    for r in (16, 8):
        arr = group[f"images/{r}"]
        assert arr.dtype == "uint8" and arr.compressors == ()
        assert arr.shape == (3, 4, r, r)


def _block(text: str, name: str) -> re.Match[str]:
    found = re.search(rf"(<!-- output:{name} -->\n```\n)(.*?)(```\n<!-- /output -->)", text, re.S)
    assert found, f"no generated block {name!r}"
    return found


def test_quickstart_output_is_what_run_prints_for_the_committed_smoke_results():
    from micro_bench_tables.tables import build_table
    from micro_bench_tables.terminal import terminal_text

    bench = REPO / "benchmarks" / "results" / "smoke" / "hpa_table4"
    expected = terminal_text(bench, build_table(bench)).replace(str(REPO) + "/", "")
    path = REPO / "docs" / "quickstart.md"
    text = path.read_text(encoding="utf-8")
    found = _block(text, "hpa_table4")
    if os.environ.get("MICRO_BENCH_UPDATE_DOCS") == "1":
        text = text[: found.start(2)] + expected + text[found.end(2):]
        path.write_text(text, encoding="utf-8")
        found = _block(text, "hpa_table4")
    assert found.group(2) == expected


def test_quickstart_commands_are_valid():
    from click.testing import CliRunner

    from micro_bench_commands.cli import cli

    text = (REPO / "docs" / "quickstart.md").read_text(encoding="utf-8")
    commands = re.findall(r"^micro-bench (run|validate|lr-find) (\S+)(.*)$", text, re.M)
    assert commands
    for _, file, rest in commands:
        args = [a for a in rest.split("#")[0].split() if a]
        keep = [a for i, a in enumerate(args) if a == "--profile" or (i and args[i - 1] == "--profile")]
        sets = [a for i, a in enumerate(args) if a == "--set" or (i and args[i - 1] == "--set")]
        result = CliRunner().invoke(cli, ["validate", str(REPO / file), *keep, *sets])
        assert result.exit_code == 0, (file, rest, result.output)
