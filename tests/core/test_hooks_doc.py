"""docs/hooks.md documents every hook in hookspecs.py under a heading that is its exact signature."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from micro_bench import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"
HEADING = re.compile(r"^### `(?P<signature>(?P<name>micro_bench_\w+)\(.*\) -> .+)`\s*$", re.MULTILINE)


def signature_text(function: Callable[..., object]) -> str:
    """``name(a: A, b: B = 1) -> R`` with annotations as written in the source (they are
    strings under ``from __future__ import annotations``)."""
    sig = inspect.signature(function)
    params = []
    for p in sig.parameters.values():
        text = p.name if p.annotation is p.empty else f"{p.name}: {p.annotation}"
        if p.default is not p.empty:
            text += f" = {p.default!r}"
        params.append(text)
    return f"{function.__name__}({', '.join(params)}) -> {sig.return_annotation}"


def _specs() -> dict[str, Callable[..., object]]:
    return {
        name: f
        for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if getattr(f, f"{hookspecs.PROJECT}_spec", None) is not None
    }


def _sections() -> dict[str, tuple[str, str]]:
    """hook name -> (heading signature, section text up to the next heading)."""
    text = DOC.read_text(encoding="utf-8")
    matches = list(HEADING.finditer(text))
    ends = [m.start() for m in matches[1:]] + [len(text)]
    out: dict[str, tuple[str, str]] = {}
    for match, end in zip(matches, ends, strict=True):
        assert match["name"] not in out, f"{DOC.name}: {match['name']} is documented twice"
        out[match["name"]] = (match["signature"], text[match.end() : end])
    return out


def test_there_are_hooks_to_document():
    assert len(_specs()) >= 13 and "micro_bench_losses" in _specs()


def test_signature_text_renders_annotations_verbatim():
    assert signature_text(hookspecs.micro_bench_losses) == "micro_bench_losses() -> Iterable[ComponentSpec]"

    def micro_bench_x(a: int, b: str = "s") -> None: ...

    assert signature_text(micro_bench_x) == "micro_bench_x(a: int, b: str = 's') -> None"


@pytest.mark.parametrize("name", sorted(_specs()))
def test_hook_is_documented_with_its_exact_signature(name):
    sections = _sections()
    expected = signature_text(_specs()[name])
    assert name in sections, f"{DOC.name} has no section for {name}; add a heading: ### `{expected}`"
    documented, body = sections[name]
    assert documented == expected, f"{DOC.name}: heading for {name} is `{documented}`, but hookspecs.py declares `{expected}`"
    assert len(body.split()) >= 15, f"{DOC.name}: the section for {name} does not state its contract"


def test_firstresult_hooks_say_so():
    sections = _sections()
    for name, f in _specs().items():
        if getattr(f, f"{hookspecs.PROJECT}_spec")["firstresult"]:
            assert "firstresult" in sections[name][1], f"{DOC.name}: say that {name} is firstresult"


def test_no_section_for_a_hook_that_does_not_exist():
    stale = set(_sections()) - set(_specs())
    assert not stale, f"{DOC.name} documents hooks that hookspecs.py does not declare: {sorted(stale)}"
