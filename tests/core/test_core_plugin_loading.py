"""Entry-point loading with fake distributions, env switches, and a local plugins folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOOD = '''
from micro_bench import ComponentSpec, hookimpl

@hookimpl
def micro_bench_losses():
    return [ComponentSpec("fake_loss", "fake_good_plugin:make", "A fake loss")]

def make(scale: float = 1.0):
    return lambda logits, targets: scale
'''


def _dist(root: Path, dist: str, version: str, module: str, source: str, ep_name: str) -> None:
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[micro_bench]\n{ep_name} = {module}\n")


@pytest.fixture
def fake_site(tmp_path):
    _dist(tmp_path, "micro-bench-good", "1.2.3", "fake_good_plugin", GOOD, "good")
    _dist(tmp_path, "micro-bench-broken", "0.1", "fake_broken_plugin", "import not_a_real_module_xyz\n", "broken")
    return tmp_path


def _cli(args, site, **env):
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path]), **env}
    return subprocess.run([sys.executable, "-m", "micro_bench", *args], capture_output=True, text=True, env=full_env)


def test_broken_plugin_is_listed_and_the_rest_works(fake_site):
    proc = _cli(["plugins", "--json"], fake_site)
    assert proc.returncode == 0, proc.stderr
    infos = {i["name"]: i for i in json.loads(proc.stdout)}
    assert infos["good"]["status"] == "ok"
    assert (infos["good"]["distribution"], infos["good"]["version"]) == ("micro-bench-good", "1.2.3")
    assert infos["broken"]["status"] == "broken"
    assert infos["broken"]["distribution"] == "micro-bench-broken"
    assert "ModuleNotFoundError: No module named 'not_a_real_module_xyz'" in infos["broken"]["error"]
    assert "MICRO_BENCH_DISABLED_PLUGINS=broken" in infos["broken"]["error"]
    listing = _cli(["list", "loss"], fake_site)
    assert listing.returncode == 0 and "fake_loss" in listing.stdout and "[good]" in listing.stdout


def test_strict_mode_makes_a_broken_plugin_fatal(fake_site):
    proc = _cli(["list", "loss"], fake_site, MICRO_BENCH_STRICT_PLUGINS="1")
    assert proc.returncode != 0
    assert "plugin 'broken' (micro-bench-broken) failed to load: ModuleNotFoundError" in proc.stderr


def test_disable_switches(fake_site):
    off = _cli(["plugins", "--json"], fake_site, MICRO_BENCH_DISABLE_PLUGIN_AUTOLOAD="1")
    names = {i["name"] for i in json.loads(off.stdout)}
    assert "good" not in names and "broken" not in names
    some = _cli(["plugins", "--json"], fake_site, MICRO_BENCH_DISABLED_PLUGINS="broken")
    status = {i["name"]: i["status"] for i in json.loads(some.stdout)}
    assert status["broken"] == "disabled" and status["good"] == "ok"


def test_plugins_dir(tmp_path):
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "my_losses.py").write_text(GOOD.replace("fake_good_plugin:make", "micro_bench_local_my_losses:make"))
    from micro_bench.host import Host

    pm = Host.load(builtins=False, entrypoints=False, plugins_dir=folder)
    assert pm.registries["loss"].create("fake_loss", scale=2.0)(None, None) == 2.0
    proc = _cli(["--plugins-dir", str(folder), "list", "loss"], tmp_path)
    assert "fake_loss" in proc.stdout, proc.stderr


def test_no_plugin_loaded_at_import():
    code = "import sys, micro_bench; print(any(m.startswith('micro_bench_') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
