"""Deliberately broken third-party plugins, installed as fake distributions (a ``*.dist-info``
folder with ``entry_points.txt`` on ``sys.path``): each is reported with its name and problem,
everything else keeps working, and ``MICRO_BENCH_STRICT_PLUGINS=1`` makes it fatal."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from micro_bench.errors import PluginError
from micro_bench.host import Host
from micro_bench_conformance import check_plugin

ROOT = Path(__file__).resolve().parents[2]

#: entry-point name -> (module source). Module names are unique to this test file.
PLUGINS = {
    "mbt_good": """
        from micro_bench import ComponentSpec, hookimpl

        @hookimpl
        def micro_bench_losses():
            return [ComponentSpec("mbt_good_bce", "torch.nn:BCEWithLogitsLoss", "plain BCE")]
    """,
    "mbt_import_error": """
        import micro_bench_dependency_that_is_not_installed  # noqa: F401
    """,
    "mbt_wrong_type": """
        from micro_bench import hookimpl

        @hookimpl
        def micro_bench_losses():
            return ["mbt_wrong_type_loss"]  # a str, not a ComponentSpec
    """,
    "mbt_bad_contract": """
        from micro_bench import ComponentSpec, hookimpl

        def summed():
            import torch
            return torch.nn.BCEWithLogitsLoss(reduction="sum")  # micro-bench losses are means

        @hookimpl
        def micro_bench_losses():
            return [ComponentSpec("mbt_summed", summed, "BCE summed over elements")]
    """,
}


@pytest.fixture(scope="module")
def fake_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one module and one ``<dist>-1.2.3.dist-info`` per plugin in :data:`PLUGINS`."""
    site = tmp_path_factory.mktemp("fake_site")
    for name, source in PLUGINS.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
        dist = site / f"{name}-1.2.3.dist-info"
        dist.mkdir()
        dist_name = "micro-bench-" + name.removeprefix("mbt_").replace("_", "-")
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.2.3\n")
        (dist / "entry_points.txt").write_text(f"[micro_bench]\n{name} = {name}\n")
    return site


@pytest.fixture
def on_path(fake_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("MICRO_BENCH_STRICT_PLUGINS", "MICRO_BENCH_DISABLE_PLUGIN_AUTOLOAD", "MICRO_BENCH_DISABLED_PLUGINS", "MICRO_BENCH_PLUGINS_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.syspath_prepend(str(fake_site))
    importlib.invalidate_caches()
    return fake_site


def test_import_error_is_reported_with_plugin_and_distribution(on_path):
    infos = {info.name: info for info in Host.load(entrypoints=True).plugin_infos()}
    broken = infos["mbt_import_error"]
    assert broken.status == "broken"
    assert broken.distribution == "micro-bench-import-error" and broken.version == "1.2.3"
    assert "ModuleNotFoundError" in broken.error and "micro_bench_dependency_that_is_not_installed" in broken.error
    assert "MICRO_BENCH_DISABLED_PLUGINS=mbt_import_error" in broken.error  # what to do about it
    assert infos["mbt_good"].status == "ok" and infos["micro_bench_losses"].status == "ok"


def test_wrong_hook_type_is_a_problem_of_that_plugin_only(on_path):
    losses = Host.load(entrypoints=True).registries["loss"]
    (plugin, message), = [p for p in losses.problems if p[0] == "mbt_wrong_type"]
    assert "'mbt_wrong_type'" in message and "ComponentSpec" in message and "str" in message
    assert {"bce", "focal", "mbt_good_bce", "mbt_summed"} <= set(losses.names())


def test_contract_breach_is_found_by_check_plugin(on_path):
    pm = Host.load(entrypoints=True)
    (result,) = check_plugin(pm, "mbt_bad_contract")
    assert not result.ok and result.plugin == "mbt_bad_contract" and result.name == "mbt_summed"
    assert "not a mean" in result.message
    assert all(r.ok for r in check_plugin(pm, "mbt_good"))
    (broken,) = check_plugin(pm, "micro-bench-import-error")  # by distribution name too
    assert not broken.ok and "broken" in broken.message and "ModuleNotFoundError" in broken.message


def test_strict_mode_makes_a_broken_plugin_fatal(on_path, monkeypatch):
    monkeypatch.setenv("MICRO_BENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"'mbt_import_error' \(micro-bench-import-error\)"):
        Host.load(entrypoints=True)
    monkeypatch.setenv("MICRO_BENCH_DISABLED_PLUGINS", "mbt_import_error")
    pm = Host.load(entrypoints=True)
    with pytest.raises(PluginError, match="'mbt_wrong_type'.*ComponentSpec"):
        pm.registries["loss"].names()


def _cli(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MICRO_BENCH_")}
    environ.update(PYTHONPATH=os.pathsep.join(filter(None, [str(site), environ.get("PYTHONPATH")])), **env)
    return subprocess.run([sys.executable, "-m", "micro_bench", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_keeps_working_and_names_each_broken_plugin(fake_site):
    listing = _cli(fake_site, "plugins")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    for name, dist in (("mbt_import_error", "micro-bench-import-error"), ("mbt_wrong_type", "micro-bench-wrong-type")):
        (line,) = [line for line in lines if line.split()[:1] == [name]]
        assert line.split()[1:3] == ["broken", dist], line
    assert any(line.split()[:2] == ["mbt_good", "ok"] for line in lines)
    losses = _cli(fake_site, "list", "loss")
    assert losses.returncode == 0, losses.stderr
    assert {"bce", "focal", "mbt_good_bce"} <= {line.split()[0] for line in losses.stdout.splitlines() if line.strip()}
    bad = _cli(fake_site, "check-plugin", "mbt_bad_contract")
    assert bad.returncode == 1 and "FAIL" in bad.stdout and "mbt_summed" in bad.stdout and "not a mean" in bad.stdout
    good = _cli(fake_site, "check-plugin", "mbt_good")
    assert good.returncode == 0 and "PASS" in good.stdout


def test_cli_strict_mode_fails_with_the_plugins_name(fake_site):
    done = _cli(fake_site, "list", "loss", MICRO_BENCH_STRICT_PLUGINS="1")
    assert done.returncode != 0
    assert "mbt_import_error" in done.stderr and "micro-bench-import-error" in done.stderr
    assert "Traceback" not in done.stderr
