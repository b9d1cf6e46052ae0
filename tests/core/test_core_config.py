"""Benchmark files: merging, profiles, --set, and located errors for malformed files."""

from __future__ import annotations

import pytest

from micro_bench.config import load_config, parse_set
from micro_bench.errors import ConfigError
from micro_bench.validate import validate_config
from toy_plugin import TOY_BENCH

#: The shared toy benchmark with two rows of its own, 30 samples and two profiles.
GOOD = TOY_BENCH.replace("title: Toy table", "title: Toy benchmark").replace("n: 40", "n: 30").replace(
    "reference: ref.csv\n", "").split("runs:")[0] + """\
runs:
  - {label: low, model: {noise: 0.0}}
  - {label: high, model: {name: prevalence, noise: 0.5}, trainer: {epochs: 3}}
profiles:
  smoke: {dataset: {n: 20}, trainer: {epochs: 1}}
  other: {dataset: {name: toy2, size: 3}}
"""


def test_merge_runs_profile_and_set(write_yaml):
    cfg = load_config(write_yaml(GOOD), profile="smoke", overrides=["trainer.epochs=5", "seed=7"])
    low, high = cfg.runs
    assert (low.label, high.label) == ("low", "high")
    assert low.model.params == {"noise": 0.0}
    assert high.model.params == {"noise": 0.5}
    assert low.dataset.params == {"n": 20}
    assert low.trainer.params == {"epochs": 5} and high.trainer.params == {"epochs": 5}
    assert low.seed == 7
    assert low.split == {"method": "multilabel_stratified", "fractions": [0.8, 0.1, 0.1], "seed": 0}
    assert low.loss is None and low.tta is None
    assert [m.name for m in cfg.metrics] == ["mean_score", "accuracy"]
    assert cfg.name == "toybench" and cfg.profile == "smoke"


def test_component_with_other_name_replaces_params(write_yaml):
    cfg = load_config(write_yaml(GOOD), profile="other")
    assert cfg.runs[0].dataset.name == "toy2" and cfg.runs[0].dataset.params == {"size": 3}


def test_profile_runs_mapping_patches_one_row(write_yaml):
    text = GOOD.replace("  smoke: {", "  one: {runs: {high: {trainer: {epochs: 9}}}}\n  smoke: {")
    cfg = load_config(write_yaml(text), profile="one")
    assert cfg.runs[0].trainer.params == {"epochs": 2}
    assert cfg.runs[1].trainer.params == {"epochs": 9}


def test_parse_set_is_yaml_typed():
    assert parse_set("trainer.lr=0.01") == (["trainer", "lr"], 0.01)
    assert parse_set("tta=null") == (["tta"], None)
    assert parse_set("loss={name: focal, gamma: 2}") == (["loss"], {"name": "focal", "gamma": 2})


def test_set_replaces_string_component(write_yaml):
    cfg = load_config(write_yaml(GOOD), overrides=["model.noise=0.3"])
    assert cfg.runs[0].model.name == "prevalence" and cfg.runs[0].model.params == {"noise": 0.3}


BAD = {
    "bad_yaml": (GOOD.replace("metrics: [mean_score, accuracy]", "metrics: [mean_score, accuracy"),
                 "invalid YAML"),
    "not_mapping": ("- 1\n- 2\n", "expected a mapping at the top level, got list"),
    "no_version": (GOOD.replace("version: 1\n", ""), "version: missing; add 'version: 1'"),
    "version_mismatch": (GOOD.replace("version: 1", "version: 2"), "version: unsupported version 2; this micro-bench reads version 1"),
    "unknown_key": (GOOD.replace("seed: 3", "sead: 3"), "sead: unknown key; did you mean 'seed'?"),
    "unknown_run_key": (GOOD.replace("{label: low,", "{label: low, lr: 1,"), "runs[0].lr: unknown key"),
    "wrong_seed_type": (GOOD.replace("seed: 3", "seed: three"), "seed: expected an integer in [0, 4294967295], got str 'three'"),
    "component_wrong_type": (GOOD.replace("dataset: {name: toy, n: 30}", "dataset: 3"), "dataset: expected a component name or a mapping with 'name', got int 3"),
    "component_no_name": (GOOD.replace("trainer: {name: toy_trainer, epochs: 2}\ntransform: null", "trainer: {epochs: 2}"), "trainer: expected a mapping with a 'name' string"),
    "missing_dataset": (GOOD.replace("dataset: {name: toy, n: 30}\n", ""), "dataset: missing; expected a component name"),
    "bad_fractions": (GOOD.replace("seed: 3", "seed: 3\nsplit: {fractions: [0.5, 0.1]}"), "split.fractions: expected three non-negative numbers summing to 1"),
    "bad_threshold": (GOOD.replace("threshold: 0.5", "threshold: 1.5"), "evaluate.threshold: expected a number in [0, 1] or a threshold rule's name (tuned, prevalence, ...), got 1.5"),
    "bad_eval_split": (GOOD.replace("split: test", "split: holdout"), "evaluate.split: expected train, val or test, got 'holdout'"),
    "duplicate_label": (GOOD.replace("label: high", "label: low"), "runs[1].label: duplicate label 'low'"),
    "empty_runs": (GOOD.split("runs:")[0] + "runs: []\n", "runs: expected a non-empty list of runs"),
    "missing_reference": (GOOD.replace("seed: 3", "seed: 3\nreference: nope.csv"), "reference: file"),
    "metrics_not_list": (GOOD.replace("metrics: [mean_score, accuracy]", "metrics: accuracy"), "metrics: expected a non-empty list of metric names, got str"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_files_name_file_and_key(write_yaml, case):
    text, expected = BAD[case]
    path = write_yaml(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert expected in message


def test_missing_file():
    with pytest.raises(ConfigError, match=r"benchmark file 'nope/missing.yaml' not found"):
        load_config("nope/missing.yaml")


def test_unknown_profile(write_yaml):
    path = write_yaml(GOOD)
    with pytest.raises(ConfigError, match=r"profiles: unknown profile 'fast'; available: smoke, other"):
        load_config(path, profile="fast")


@pytest.mark.parametrize("expr,expected", [
    ("trainer.lr", "--set 'trainer.lr': expected KEY.PATH=VALUE"),
    ("=3", "expected KEY.PATH=VALUE"),
    ("bogus.x=1", "--set 'bogus.x=1': unknown key 'bogus'"),
    ("trainer.epochs.x=1", "trainer.epochs is a int, not a mapping"),
])
def test_bad_set(write_yaml, expr, expected):
    with pytest.raises(ConfigError) as err:
        load_config(write_yaml(GOOD), overrides=[expr])
    assert expected in str(err.value)


def test_unknown_component_with_key_path(write_yaml, toy_pm):
    path = write_yaml(GOOD.replace("{label: high, model: {name: prevalence,", "{label: high, model: {name: prevalance,"))
    cfg = load_config(path)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg, toy_pm)
    assert str(err.value) == (
        f"unknown model 'prevalance' ({path}: runs[1].model)\n"
        "Did you mean: prevalence?  Available models: prevalence"
    )


def test_unknown_parameter_with_key_path(write_yaml, toy_pm):
    cfg = load_config(write_yaml(GOOD.replace("trainer: {epochs: 3}", "trainer: {epoch: 3}")))
    with pytest.raises(ConfigError, match=r"trainer 'toy_trainer' got unknown parameter 'epoch' \(.*bench.yaml: runs\[1\].trainer\). Did you mean: epochs\?"):
        validate_config(cfg, toy_pm)


def test_wrong_parameter_type_with_key_path(write_yaml, toy_pm):
    cfg = load_config(write_yaml(GOOD.replace("{noise: 0.0}", "{noise: lots}")))
    with pytest.raises(ConfigError, match=r"bench.yaml: runs\[0\].model.noise: expected float, got str 'lots'"):
        validate_config(cfg, toy_pm)


def test_unknown_metric_with_index(write_yaml, toy_pm):
    cfg = load_config(write_yaml(GOOD.replace("[mean_score, accuracy]", "[mean_score, acuracy]")))
    with pytest.raises(ConfigError, match=r"unknown metric 'acuracy' \(.*: metrics\[1\]\)\nDid you mean: accuracy\?"):
        validate_config(cfg, toy_pm)


def test_relative_paths_beside_the_file_then_in_micro_bench_data_then_the_working_folder(tmp_path, monkeypatch):
    from micro_bench.yamlio import find_path

    folder, data, work = (tmp_path / name for name in ("bench", "data", "work"))
    for path in (folder / "both.zarr", data / "both.zarr", data / "shared.zarr", work):
        path.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.delenv("MICRO_BENCH_DATA", raising=False)
    assert find_path("both.zarr", folder) == str(folder / "both.zarr")
    assert find_path("shared.zarr", folder) == "shared.zarr"  # as given: the working folder
    monkeypatch.setenv("MICRO_BENCH_DATA", str(data))
    assert find_path("both.zarr", folder) == str(folder / "both.zarr")  # the file's folder first
    assert find_path("shared.zarr", folder) == str(data / "shared.zarr")
    assert find_path("nowhere.zarr", folder) == "nowhere.zarr"
    assert find_path(str(tmp_path / "abs.zarr"), folder) == str(tmp_path / "abs.zarr")
    assert find_path("s3://bucket/hpa.zarr", folder) == "s3://bucket/hpa.zarr"


def test_declared_path_parameters_reach_the_factory_resolved_but_the_run_key_keeps_them(write_yaml, tmp_path):
    import toy_plugin
    from micro_bench import ComponentSpec, Host, hookimpl
    from micro_bench.build import build_dataset

    seen: dict[str, str] = {}

    def files(store: str, n: int = 30):
        seen["store"] = store
        return toy_plugin.ToyDataset(n=n)

    class Files:
        @hookimpl
        def micro_bench_datasets(self):
            return [ComponentSpec("files", files, "a dataset read from a file", {"paths": ["store"]})]

    host = Host.load(builtins=False, entrypoints=False, plugins=[toy_plugin, Files()])
    (tmp_path / "labels.csv").write_text("id\n")
    cfg = load_config(write_yaml(GOOD.replace("dataset: {name: toy, n: 30}", "dataset: {name: files, store: labels.csv}")))
    validate_config(cfg, host)
    build_dataset(cfg.runs[0], host)
    assert seen["store"] == str(tmp_path / "labels.csv")
    assert cfg.runs[0].to_dict()["dataset"] == {"name": "files", "store": "labels.csv"}  # hashed as written
