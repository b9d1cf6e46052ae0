"""A ``select`` row's ``trainer.metric`` is checked against the installed metrics by ``validate``
and by ``run`` before any work (found by the probe: ``validate`` passed it, and ``run`` refused it
only after running or checking the source benchmarks): one line with the key's path and the
closest metric name, exit 1, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from micro_bench.errors import ConfigError
from micro_bench.params import Param, check_params

from .conftest import assert_user_error, invoke

SELECT = {
    "version": 1, "name": "sel", "seed": 0,
    "dataset": {"name": "hpa_synth", "n": 40, "resolution": 32},
    "split": {"fractions": [0.5, 0.25, 0.25]},
    "model": {"name": "selected"},
    "trainer": {"name": "select", "source": "hpa_table1", "metric": "f1_macro"},
    "transform": None, "evaluate": {"split": "val", "threshold": 0.5}, "metrics": ["f1_macro"],
    "runs": [{"label": "a"}, {"label": "b", "trainer": {"metric": "roc_auc_macr"}}],
}


@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_unknown_select_metric_is_one_line_naming_the_row(tmp_path: Path, command: str) -> None:
    (tmp_path / "sel.yaml").write_text(yaml.safe_dump(SELECT))
    extra = ["--out", str(tmp_path / "runs"), "--no-progress"] if command == "run" else []
    assert_user_error(invoke(command, str(tmp_path / "sel.yaml"), *extra),
                      "runs[1].trainer.metric: unknown metric 'roc_auc_macr'; did you mean 'roc_auc_macro'?")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sel.yaml"]  # run started nothing


def test_a_far_off_select_metric_lists_the_installed_metrics(tmp_path: Path) -> None:
    from micro_bench.host import Host

    (tmp_path / "sel.yaml").write_text(yaml.safe_dump({**SELECT, "trainer": {**SELECT["trainer"], "metric": "zzz"},
                                                       "runs": [{"label": "a"}]}))
    result = invoke("validate", str(tmp_path / "sel.yaml"))
    assert_user_error(result, "trainer.metric: expected the name of an installed metric (", "got str 'zzz'")
    for name in Host.load().registries["metric"].names():
        assert name in result.output


def test_a_known_select_metric_validates(tmp_path: Path) -> None:
    (tmp_path / "sel.yaml").write_text(yaml.safe_dump({**SELECT, "runs": [{"label": "a"}]}))
    result = invoke("validate", str(tmp_path / "sel.yaml"))
    assert result.exit_code == 0, result.output


def test_param_names_needs_the_registry_fact() -> None:
    """Without the run's facts (no registry known) a ``names`` parameter is only type-checked."""
    schema = {"metric": Param("str", names="metric")}
    check_params(schema, {"metric": "anything"}, "w")
    facts = {"registry.metric": ("f1_macro", "f1_micro")}
    check_params(schema, {"metric": "f1_micro"}, "w", facts)
    with pytest.raises(ConfigError, match=r"^w\.metric: unknown metric 'f1_mikro'; did you mean 'f1_micro'\?"):
        check_params(schema, {"metric": "f1_mikro"}, "w", facts)
    with pytest.raises(ConfigError, match=r"^w\.metric: expected the name of an installed metric \(f1_macro, "
                                          r"f1_micro\), got int 3$"):
        check_params(schema, {"metric": 3}, "w", facts)
