"""``micro-bench list model timm[:PATTERN]``: timm's models and whether pretrained weights exist."""

from __future__ import annotations

from collections import defaultdict

__all__ = ["timm_lines"]


def timm_lines(pattern: str = "") -> list[str]:
    """One line per timm architecture matching ``pattern`` (a glob such as ``convnext*``, or a
    substring), with its pretrained tags (``timm:NAME.TAG`` selects one) or "no pretrained weights"."""
    import timm

    glob = pattern if any(ch in pattern for ch in "*?[") else f"*{pattern}*"
    tags: dict[str, list[str]] = defaultdict(list)
    for name in timm.list_pretrained():
        arch, _, tag = name.partition(".")
        tags[arch].append(tag)
    lines = []
    for arch in timm.list_models(glob):
        have = tags.get(arch, [])
        shown = ", ".join(have[:3]) + (f", ... ({len(have)} tags)" if len(have) > 3 else "")
        lines.append(f"  timm:{arch:<40} " + (f"pretrained: {shown}" if have else "no pretrained weights"))
    return lines
