"""Bundled plugins merged into another (``RENAMED_PLUGINS``): naming a former plugin in
``MICRO_BENCH_DISABLED_PLUGINS`` disables the plugin that holds it now, and ``micro-bench plugins``
says under which name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from micro_bench.host import BUILTIN_PLUGINS, RENAMED_PLUGINS, Host

REPO = Path(__file__).resolve().parents[2]


def test_old_names_are_gone_and_point_at_bundled_plugins():
    bundled = {module.split(".")[0] for module in BUILTIN_PLUGINS}
    assert set(RENAMED_PLUGINS) == {"micro_bench_tensorboard", "micro_bench_mlflow"}
    assert set(RENAMED_PLUGINS.values()) <= bundled
    assert not set(RENAMED_PLUGINS) & bundled
    assert not any((REPO / "plugins" / old).exists() for old in RENAMED_PLUGINS)


@pytest.mark.parametrize("old", sorted(RENAMED_PLUGINS))
def test_an_old_name_disables_the_plugin_that_holds_it_now(monkeypatch, old):
    monkeypatch.setenv("MICRO_BENCH_DISABLED_PLUGINS", f" {old} ,micro_bench_export")
    host = Host.load(entrypoints=False)
    new = RENAMED_PLUGINS[old]
    infos = {info.name: info for info in host.plugin_infos()}
    assert (infos[new].status, infos[new].error) == (
        "disabled", f"disabled as {old!r}, now part of it: name {new!r} in MICRO_BENCH_DISABLED_PLUGINS")
    assert (infos["micro_bench_export"].status, infos["micro_bench_export"].error) == ("disabled", None)
    assert host.pm.get_plugin(new) is None and host.pm.get_plugin("micro_bench_hpa") is not None
    assert old not in infos and not host.problems

    from micro_bench_commands.cli import cli

    listed = {i["name"]: i for i in json.loads(CliRunner().invoke(cli, ["plugins", "--json"], obj=host).output)}
    assert listed[new]["status"] == "disabled" and old in listed[new]["error"]
    text = CliRunner().invoke(cli, ["plugins"], obj=host).output
    assert f"error: disabled as {old!r}, now part of it: name {new!r} in MICRO_BENCH_DISABLED_PLUGINS" in text


def test_the_new_name_disables_it_without_a_note(monkeypatch):
    monkeypatch.setenv("MICRO_BENCH_DISABLED_PLUGINS", "micro_bench_loggers")
    info = {i.name: i for i in Host.load(entrypoints=False).plugin_infos()}["micro_bench_loggers"]
    assert (info.status, info.error) == ("disabled", None)


def test_log_with_the_loggers_disabled_is_one_line_not_a_silent_no_op(monkeypatch, toy_bench, tmp_path):
    from micro_bench_commands.cli import cli

    monkeypatch.setenv("MICRO_BENCH_DISABLED_PLUGINS", "micro_bench_tensorboard")
    host = Host.load(entrypoints=False)
    result = CliRunner().invoke(cli, ["run", str(toy_bench()), "--out", str(tmp_path / "runs"), "--log", "mlflow"], obj=host)
    assert result.exit_code == 1, result.output
    assert [line for line in result.output.splitlines() if line.startswith("Error:")] == [
        "Error: --log mlflow: the loggers plugin is disabled (disabled as 'micro_bench_tensorboard', now part of it: "
        "name 'micro_bench_loggers' in MICRO_BENCH_DISABLED_PLUGINS)"]
    assert not (tmp_path / "runs").exists()
