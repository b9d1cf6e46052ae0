"""The ``multilabel`` sampler: weights, long-run label frequencies, seeded draws in the trainer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from micro_bench_samplers.multilabel import MultiLabelSampler

# 6 samples, 3 classes; frequencies 4/6, 2/6, 1/6 (class 0 is the commonest)
Y = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 1], [0, 0, 0]], dtype=bool)


def test_weights_on_a_known_label_matrix():
    inv = np.array([6 / 4, 6 / 2, 6 / 1])
    rarest = np.array([inv[0], inv[0], inv[1], inv[1], inv[2], inv[0]])  # no label: like the commonest
    np.testing.assert_allclose(MultiLabelSampler("rarest").weights(Y), rarest / rarest.sum())
    mean = np.array([inv[0], inv[0], (inv[0] + inv[1]) / 2, inv[1], (inv[0] + inv[2]) / 2, inv[0]])
    np.testing.assert_allclose(MultiLabelSampler("mean").weights(Y), mean / mean.sum())
    under = rarest * np.array([0.5, 0.5, 1, 1, 1, 1])  # samples 0 and 1 hold the commonest class alone
    np.testing.assert_allclose(MultiLabelSampler("rarest", undersample=0.5).weights(Y), under / under.sum())
    np.testing.assert_allclose(MultiLabelSampler(power=0).weights(Y), np.full(6, 1 / 6))
    with pytest.raises(ValueError, match="undersample must be in \\(0, 1\\]"):
        MultiLabelSampler(undersample=0)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.bool_, st.tuples(st.integers(5, 40), st.integers(1, 5))),
       st.sampled_from(["rarest", "mean"]), st.floats(0.0, 1.5), st.floats(0.2, 1.0), st.integers(0, 2**31))
def test_long_run_label_frequencies_match_the_target(labels, mode, power, undersample, seed):
    sampler = MultiLabelSampler(mode, power, undersample)
    target = sampler.expected_frequencies(labels)
    n = 20_000
    drawn = torch.multinomial(torch.as_tensor(sampler.weights(labels)), n, replacement=True,
                              generator=torch.Generator().manual_seed(seed)).numpy()
    seen = labels[drawn].mean(axis=0)
    sigma = np.sqrt(np.clip(target * (1 - target), 0, None) / n)
    assert np.all(np.abs(seen - target) <= 5 * sigma + 1e-9)


def test_rare_classes_are_drawn_more_often_than_their_frequency():
    rng = np.random.default_rng(0)
    labels = rng.random((500, 6)) < np.array([0.5, 0.2, 0.1, 0.05, 0.02, 0.01])
    target = MultiLabelSampler("rarest").expected_frequencies(labels)
    assert np.all(target[1:] > labels.mean(axis=0)[1:]) and target[0] < labels.mean(axis=0)[0]


def test_the_trainer_draws_reproducibly_and_records_the_classes_it_saw(tmp_path: Path):
    from tests.plugins.torch.test_trainer import DS, SPLIT, TinyNet, _ctx, _trainer

    def fit(seed_dir: Path) -> dict:
        sampler = MultiLabelSampler("rarest", epoch_size=24)
        trainer = _trainer(freeze_epochs=0, epochs=2, checkpoint=False)
        return dict(trainer.fit(TinyNet(), DS, SPLIT, loss=torch.nn.BCEWithLogitsLoss(), schedule=None,
                                context=_ctx(seed_dir), sampler=sampler))

    a, b = fit(tmp_path / "a"), fit(tmp_path / "b")
    assert len(a["sampled_class_freq"]) == 2 and a["sampled_class_freq"] == b["sampled_class_freq"]
    assert a["train_loss"] == b["train_loss"]
    assert a["sampled_class_freq"][0] != a["sampled_class_freq"][1]  # each epoch draws anew
    np.testing.assert_allclose(a["class_freq_train"], DS.labels[SPLIT.train].mean(axis=0))
    assert (tmp_path / "a" / "sampled_classes.png").stat().st_size > 0


def test_a_sampler_for_a_trainer_without_one_is_refused(tmp_path: Path):
    from micro_bench.config import load_config
    from micro_bench.errors import ConfigError
    from micro_bench.host import Host
    from micro_bench.validate import validate_config

    path = tmp_path / "b.yaml"
    path.write_text("version: 1\nname: b\ndataset: {name: hpa_synth, n: 40, resolution: 32}\n"
                    "model: logreg\ntrainer: sklearn\nsampler: multilabel\nmetrics: [f1_macro]\n"
                    "runs:\n  - {label: LR}\n")
    with pytest.raises(ConfigError, match="trainer 'sklearn' does not draw samples with a sampler"):
        validate_config(load_config(path), Host.load(entrypoints=False))
