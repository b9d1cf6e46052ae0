"""The per-kind contract checks behind :mod:`micro_bench_conformance`.

Each ``check_<kind>(component) -> str`` feeds the built component small seeded random inputs
(``B=2`` images of ``4 x 32 x 32``, ``K=5`` classes) and returns a one-line description of what
passed, or raises :class:`Violation` saying what broke. torch and numpy are imported inside.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["CHECKS", "IN_CHANS", "NUM_CLASSES", "SEED", "Violation", "check_metric", "check_protocol"]

#: K, the number of classes the checks use for models, losses, metrics and TTA reductions.
NUM_CLASSES = 5
#: The seed of every random input; C, the channels a model is built with.
SEED, IN_CHANS = 0, 4
_BATCH, _CHANS, _SIDE, _SEED = 2, IN_CHANS, 32, SEED
#: The pixel types a dataset may serve: the Protocol's uint8, or uint16 when it declares ``dtype``.
DATASET_DTYPES = ("uint8", "uint16")


class Violation(AssertionError):
    """A component broke its contract; the text says how."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise Violation(message)


def _finite(value: Any) -> bool:
    import torch

    return bool(torch.isfinite(torch.as_tensor(value)).all())


def check_model(model: Any) -> str:
    import torch

    if not isinstance(model, torch.nn.Module):
        missing = [m for m in ("fit", "predict_proba") if not callable(getattr(model, m, None))]
        _require(not missing, f"is neither a torch nn.Module nor an estimator (missing {missing})")
        return "scikit-learn style estimator with fit/predict_proba"
    x = torch.rand(_BATCH, _CHANS, _SIDE, _SIDE, generator=torch.Generator().manual_seed(_SEED))
    model.eval()
    with torch.no_grad():
        out = model(x)
    shape = (_BATCH, NUM_CLASSES)
    _require(torch.is_tensor(out), f"forward returned {type(out).__name__}, expected a tensor")
    _require(tuple(out.shape) == shape, f"maps {tuple(x.shape)} to {tuple(out.shape)}, expected {shape}")
    _require(_finite(out), "forward produced non-finite logits")
    if not callable(getattr(model, "layer_groups", None)):
        # the torch trainer's rule for a plain module (docs/models.md, "Layer groups")
        return (f"(2, 4, 32, 32) -> finite (2, {NUM_CLASSES}) logits; no layer_groups(): the torch trainer "
                "cuts its parameter-owning modules in registration order (docs/models.md)")
    owner: dict[int, int] = {}
    groups: Any = model.layer_groups  # checked callable just above
    for index, group in enumerate(groups()):
        items = [group] if isinstance(group, torch.nn.Module | torch.Tensor) else list(group)
        for item in items:
            params = item.parameters() if isinstance(item, torch.nn.Module) else [item]
            for p in params:
                _require(id(p) not in owner, f"layer_groups() {owner.get(id(p))} and {index} share a parameter")
                owner[id(p)] = index
    names = {id(p): n for n, p in model.named_parameters()}
    missing = [n for i, n in names.items() if i not in owner]
    _require(not missing, f"layer_groups() misses {len(missing)} of {len(names)} parameters, e.g. {missing[:3]}")
    _require(set(owner) <= set(names), "layer_groups() holds parameters that are not the model's")
    return f"(2, 4, 32, 32) -> finite (2, {NUM_CLASSES}) logits; {len(set(owner.values()))} layer groups cover all parameters"


def check_loss(loss: Any) -> str:
    import torch

    _require(callable(loss), f"is a {type(loss).__name__}, not a callable (logits, targets) -> scalar")
    g = torch.Generator().manual_seed(_SEED)
    targets = torch.randint(0, 2, (8, NUM_CLASSES), generator=g).float()
    for label, scale in (("random", 3.0), ("saturated", 20.0)):
        logits = (torch.randn(8, NUM_CLASSES, generator=g) * scale).requires_grad_(True)
        value = loss(logits, targets)
        _require(torch.is_tensor(value) and value.ndim == 0, f"returned {value!r}, expected a 0-d tensor")
        _require(_finite(value.detach()), f"non-finite loss {value.item()} on {label} logits")
        _require(value.requires_grad, "the loss is not differentiable with respect to the logits")
        value.backward()
        _require(logits.grad is not None and _finite(logits.grad), f"non-finite gradient on {label} logits")
    _require(logits.grad is not None and bool(logits.grad.abs().sum() > 0), "the gradient is identically zero")
    x = torch.randn(4, NUM_CLASSES, generator=g)
    y = targets[:4]
    one, two = float(loss(x, y)), float(loss(torch.cat([x, x]), torch.cat([y, y])))
    _require(math.isclose(one, two, rel_tol=1e-4, abs_tol=1e-6), f"not a mean: {one} on a batch, {two} on it twice")
    return "finite scalar and gradient (also on saturated logits); mean reduction"


def check_metric(metric: Any, value_range: tuple[float | None, float | None]) -> str:
    import numpy as np

    _require(callable(metric), f"is a {type(metric).__name__}, not a callable")
    rng = np.random.default_rng(_SEED)
    y_true = rng.random((40, NUM_CLASSES)) < 0.4
    y_true[0], y_true[1] = True, False  # every class has positives and negatives
    y_score = rng.random((40, NUM_CLASSES))
    value = metric(y_true, y_score, y_score > 0.5)
    values = dict(value) if isinstance(value, Mapping) else {"value": value}
    _require(bool(values), "returned an empty mapping")
    low = -math.inf if value_range[0] is None else float(value_range[0])
    high = math.inf if value_range[1] is None else float(value_range[1])
    for key, v in values.items():
        _require(isinstance(key, str), f"per-class keys must be str, got {key!r}")
        _require(isinstance(v, int | float | np.number) and not isinstance(v, bool), f"{key}: {v!r} is not a number")
        _require(low <= float(v) <= high, f"{key}: {float(v)} outside its range [{low}, {high}]")
    kind = f"{len(values)} per-class values" if isinstance(value, Mapping) else f"{float(value):.4g}"
    return f"{kind} in [{low}, {high}] on random inputs"


def check_tta(policy: Any) -> str:
    import torch

    g = torch.Generator().manual_seed(_SEED)
    batch = torch.rand(_BATCH, _CHANS, _SIDE, _SIDE, generator=g)
    def flip_some(images: Any, *, generator: Any) -> Any:  # a stand-in for the run's transform
        chosen = torch.rand(len(images), generator=generator) < 0.5
        return torch.where(chosen.view(-1, 1, 1, 1), images.flip(-1), images)

    views = list(policy.views(batch.clone(), generator=g, transform=flip_some))
    _require(len(views) > 0, "views() yielded nothing")
    for i, view in enumerate(views):
        _require(torch.is_tensor(view), f"view {i} is a {type(view).__name__}, expected a tensor")
        _require(view.shape == batch.shape and view.dtype == batch.dtype, f"view {i} has shape {tuple(view.shape)}, expected {tuple(batch.shape)}")
    probs = torch.rand(len(views), _BATCH, NUM_CLASSES, generator=g)
    reduced = policy.reduce(probs)
    shape = (_BATCH, NUM_CLASSES)
    _require(torch.is_tensor(reduced) and tuple(reduced.shape) == shape, f"reduce((V, B, K)) gave {getattr(reduced, 'shape', reduced)}, expected {shape}")
    _require(_finite(reduced) and bool(((reduced >= 0) & (reduced <= 1)).all()), "reduced probabilities leave [0, 1]")
    same = policy.reduce(probs[:1].expand_as(probs).clone())
    _require(torch.allclose(same, probs[0], atol=1e-6), "reducing identical views does not return that view")
    return f"{len(views)} views keep shape {tuple(batch.shape)}; reduce (V, B, K) -> (B, K)"


def check_schedule(schedule: Any, steps_per_epoch: int = 10) -> str:
    import torch

    epochs = getattr(schedule, "epochs", "missing")
    _require(epochs is None or (isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0), f"epochs is {epochs!r}, expected a positive int or None")
    steps = (epochs if isinstance(epochs, int) else 3) * steps_per_epoch
    factors = [float(schedule.multiplier(step, steps_per_epoch)) for step in range(steps)]
    bad = [(s, f) for s, f in enumerate(factors) if not (math.isfinite(f) and f >= 0)]
    _require(not bad, f"multiplier(step, {steps_per_epoch}) is negative or non-finite at (step, value) {bad[:3]}")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = schedule.attach(optimizer, steps_per_epoch)
    _require(isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler), f"attach() returned {type(scheduler).__name__}, expected a torch LRScheduler")
    for step, factor in enumerate(factors):
        lr = optimizer.param_groups[0]["lr"]
        _require(math.isclose(lr, 0.1 * factor, rel_tol=1e-6, abs_tol=1e-12), f"after attach(), step {step}: lr {lr} != base 0.1 x multiplier {factor}")
        optimizer.step()
        scheduler.step()
    return f"multiplier finite and >= 0 over {steps} steps (epochs={epochs}); attach() follows it"


def check_dataset(ds: Any) -> str:
    import numpy as np

    labels = ds.labels
    _require(isinstance(labels, np.ndarray) and labels.dtype == bool and labels.ndim == 2, f"labels must be an (N, K) bool ndarray, got {getattr(labels, 'dtype', type(labels))} {getattr(labels, 'shape', '')}")
    n, k = labels.shape
    _require(len(ds.classes) == k, f"{len(ds.classes)} classes but labels have {k} columns")
    _require(len(ds.ids) == n, f"{len(ds.ids)} ids but {n} label rows")
    c, r = len(ds.channels), ds.resolution
    _require(isinstance(r, int) and r > 0, f"resolution is {r!r}, expected a positive int")
    _require(isinstance(ds.fingerprint, str) and bool(ds.fingerprint), "fingerprint must be a non-empty str")
    # the pixel type: uint8 (the Protocol's), or the uint16 a dataset declares (``dtype``, as the
    # ``images`` dataset does for a 16-bit store), on the 0..max scale of that type
    dtype = str(getattr(ds, "dtype", "uint8"))
    _require(dtype in DATASET_DTYPES, f"dtype is {dtype!r}, expected one of {', '.join(DATASET_DTYPES)}")
    top = int(np.iinfo(dtype).max)
    declared_top = getattr(ds, "max_value", top)
    _require(declared_top == top, f"max_value is {declared_top!r}, expected {top} for {dtype} pixels")
    picked = np.arange(min(n, 3), dtype=np.int64)
    lazy = ds.images(picked)
    _require(tuple(lazy.shape) == (len(picked), c, r, r) and lazy.dtype == np.dtype(dtype), f"images() is {lazy.dtype} {tuple(lazy.shape)}, expected {dtype} {(len(picked), c, r, r)}")
    pixels = np.asarray(lazy)
    _require(pixels.shape == (len(picked), c, r, r) and pixels.dtype == np.dtype(dtype), f"computed images are {pixels.dtype} {pixels.shape}")
    parts = [ds.split_indices(part) for part in ("train", "val", "test")]
    for part, idx in zip(("train", "val", "test"), parts, strict=True):
        _require(idx.dtype == np.int64 and bool(np.all(np.diff(idx) > 0)), f"split_indices({part!r}) must be sorted unique int64")
        _require(idx.size == 0 or (idx[0] >= 0 and idx[-1] < n), f"split_indices({part!r}) out of [0, {n})")
    _require(sum(p.size for p in parts) == np.unique(np.concatenate(parts)).size, "train/val/test splits overlap")
    mean, std = (np.asarray(v) for v in ds.channel_stats(parts[0] if parts[0].size else picked))
    _require(mean.shape == (c,) and std.shape == (c,), f"channel_stats(indices) gave {mean.shape}, {std.shape}; expected ({c},) each")
    _require(bool(np.all(np.isfinite(mean)) and np.all(np.isfinite(std))), "channel_stats gave non-finite values")
    _require(bool(np.all((mean >= 0) & (mean <= top)) and np.all((std >= 0) & (std <= top))),
             f"channel_stats outside the {dtype} scale 0-{top}: mean {mean.tolist()}, std {std.tolist()}")
    return f"N={n}, K={k}, images {dtype} (n, {c}, {r}, {r}); ids, labels and splits agree; statistics on the 0-{top} scale"


def check_trainer(trainer: Any) -> str:
    import inspect

    missing = [m for m in ("fit", "predict") if not callable(getattr(trainer, m, None))]
    _require(not missing, f"missing {missing} (a Trainer has fit(...) and predict(...))")
    for method, keywords in (("fit", ("loss", "schedule", "transform", "context")),
                             ("predict", ("tta", "transform", "context"))):
        params = inspect.signature(getattr(trainer, method)).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            continue
        absent = [k for k in keywords if k not in params]
        _require(not absent, f"{method}() does not take {absent} (see the Trainer contract)")
    return "has fit(model, dataset, split, ...) and predict(model, dataset, indices, ...)" + _trainer_optional(trainer)


def _takes(method: Any, names: tuple[str, ...]) -> bool:
    """Whether ``method`` can be called with ``names`` (positionally or by keyword)."""
    import inspect

    try:
        inspect.signature(method).bind(*names)
    except TypeError:
        return False
    return True


def _trainer_optional(trainer: Any) -> str:
    """The optional Trainer members (:data:`micro_bench.components.OPTIONAL`) it offers, checked."""
    import inspect

    from micro_bench.components import offers

    has = {m: offers(trainer, m) for m in ("save", "load", "finalize", "accepts_sampler")}
    _require(has["save"] == has["load"], "has save() without load() or load() without save(): a saved model "
             "must be loadable (predict and select need both)")
    for method, names in (("save", ("model", "path")), ("load", ("path", "model")), ("finalize", ("context",))):
        if has[method]:
            _require(_takes(getattr(trainer, method), names), f"{method}() cannot be called as "
                     f"{method}({', '.join(names)}) (see the Trainer contract)")
    fit_params = inspect.signature(trainer.fit).parameters
    if has["accepts_sampler"]:
        _require("sampler" in fit_params or any(p.kind is p.VAR_KEYWORD for p in fit_params.values()),
                 "declares accepts_sampler but fit() does not take a 'sampler' keyword")
    else:
        _require("sampler" not in fit_params, "fit() takes a 'sampler' but the trainer does not declare "
                 "accepts_sampler = True (runs would refuse samplers)")
    offered = [m for m, ok in has.items() if ok]
    return f"; optional: {', '.join(offered)}" if offered else "; no optional members"


def check_transform(transform: Any) -> str:
    import torch

    x = torch.rand(_BATCH, _CHANS, _SIDE, _SIDE, generator=torch.Generator().manual_seed(_SEED))
    given = x.clone()
    out = transform(given, generator=torch.Generator().manual_seed(_SEED))
    _require(torch.equal(given, x), "modified its input batch (random TTA passes the same batch again)")
    again = transform(x.clone(), generator=torch.Generator().manual_seed(_SEED))
    _require(torch.is_tensor(out) and out.shape == x.shape and out.dtype == x.dtype,
             f"maps float32 {tuple(x.shape)} to {getattr(out, 'dtype', type(out))} {tuple(getattr(out, 'shape', ()))}")
    _require(_finite(out), "produced non-finite values")
    _require(torch.equal(out, again), "differs for the same generator state")
    return "float32 (B, C, H, W) -> same shape, finite, input kept, deterministic per generator state"


def check_sampler(sampler: Any) -> str:
    import numpy as np

    labels = np.random.default_rng(_SEED).random((40, 5)) < np.array([0.6, 0.3, 0.1, 0.05, 0.0])
    weights = np.asarray(sampler.weights(labels), dtype=np.float64)
    _require(weights.shape == (40,), f"weights() of (40, 5) labels has shape {weights.shape}, expected (40,)")
    _require(bool(np.all(np.isfinite(weights)) and np.all(weights >= 0) and weights.sum() > 0),
             "weights() must be finite, >= 0 and not all 0")
    size = getattr(sampler, "epoch_size", "missing")
    _require(size is None or (isinstance(size, int) and size >= 1), f"epoch_size must be None or >= 1, got {size!r}")
    return "weights(labels (n, K)) -> (n,) finite >= 0, epoch_size None or >= 1"


def check_threshold(rule: Any) -> str:
    import numpy as np

    rng = np.random.default_rng(_SEED)
    y_true = rng.random((40, NUM_CLASSES)) < 0.4
    y_true[0], y_true[1] = True, False  # every class has positives and negatives
    values = np.asarray(rule.fit(y_true, rng.random((40, NUM_CLASSES))), dtype=np.float64)
    _require(values.shape == (NUM_CLASSES,), f"fit() of (40, {NUM_CLASSES}) data gave shape {values.shape}, expected ({NUM_CLASSES},)")
    _require(bool(np.all(np.isfinite(values))), "fit() gave non-finite thresholds")
    _require(isinstance(getattr(rule, "description", None), str), "has no description string")
    return f"fit(y_true, y_score) -> ({NUM_CLASSES},) finite thresholds; described"


def check_logger(logger: Any) -> str:
    """The :class:`~micro_bench.components.RunLogger` calls can be made (nothing is logged: a real
    logger writes files or talks to a server); the optional ``check()`` takes no argument and the
    optional ``fail()`` can be called as ``fail(run, error)``."""
    from micro_bench.components import offers

    for method, names in (("start", ("run",)), ("epoch", ("run", "epoch", "metrics")), ("end", ("run", "result"))):
        _require(callable(getattr(logger, method, None)), f"has no {method}() (a RunLogger has start, epoch and end)")
        _require(_takes(getattr(logger, method), names), f"{method}() cannot be called as {method}({', '.join(names)}) "
                 "(see the RunLogger contract)")
    if offers(logger, "check"):
        _require(_takes(logger.check, ()), "check() must take no argument (see the RunLogger contract)")
    if offers(logger, "fail"):
        _require(_takes(logger.fail, ("run", "error")), "fail() cannot be called as fail(run, error) "
                 "(see the RunLogger contract)")
    optional = [m for m in ("check", "fail") if offers(logger, m)]
    return "start(run), epoch(run, epoch, metrics), end(run, result)" + (f"; optional: {', '.join(optional)}" if optional else "")


CHECKS: dict[str, Callable[..., str]] = {
    "model": check_model,
    "loss": check_loss,
    "tta": check_tta,
    "scheduler": check_schedule,
    "dataset": check_dataset,
    "trainer": check_trainer,
    "transform": check_transform,
    "sampler": check_sampler,
    "threshold": check_threshold,
    "logger": check_logger,
}


def check_protocol(component: Any, protocol: Any) -> str:
    """A kind without a check of its own in :data:`CHECKS` (one added to
    :data:`~micro_bench.components.KIND_TABLE` later): the component has every attribute its kind's
    Protocol annotates and every method it declares, callable with the Protocol's parameters (by
    position, keyword-only ones by keyword). Nothing is called: what the values mean is the kind's."""
    import inspect

    title = getattr(protocol, "__name__", str(protocol))
    if protocol is object:
        return f"no {title} members to check (the kind declares none)"
    members: list[str] = []
    for attr in getattr(protocol, "__annotations__", {}):
        _require(hasattr(component, attr), f"has no {attr} (see the {title} contract)")
        members.append(attr)
    for attr, value in vars(protocol).items():
        if attr.startswith("_") or not inspect.isfunction(value):
            continue
        method = getattr(component, attr, None)
        if not callable(method):
            raise Violation(f"has no {attr}() (see the {title} contract)")
        params = list(inspect.signature(value).parameters.values())[1:]  # without self
        positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        keywords = {p.name: p.name for p in params if p.kind is p.KEYWORD_ONLY}
        try:
            inspect.signature(method).bind(*positional, **keywords)
        except TypeError:
            call = ", ".join([*positional, *(f"{k}=..." for k in keywords)])
            raise Violation(f"{attr}() cannot be called as {attr}({call}) (see the {title} contract)") from None
        members.append(f"{attr}({', '.join([*positional, *keywords])})")
    return f"{title}: " + (", ".join(members) if members else "no members to check")
