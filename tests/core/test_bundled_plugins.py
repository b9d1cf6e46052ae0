"""Every plugin folder under plugins/ is registered as a bundled plugin and shipped in the wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

from micro_bench.host import BUILTIN_PLUGINS

REPO = Path(__file__).resolve().parents[2]


def test_every_plugin_folder_is_bundled_and_shipped():
    folders = sorted(p.name for p in (REPO / "plugins").iterdir() if (p / "plugin.py").is_file())
    assert sorted(m.split(".")[0] for m in BUILTIN_PLUGINS) == folders
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert sorted(p.split("/")[-1] for p in packages if p.startswith("plugins/")) == folders
