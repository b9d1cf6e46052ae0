"""The ``torch`` trainer: the paper's fastai-0.7 recipe as one object.

Adam (or any timm optimizer) with one parameter group per layer group at ``lr * lr_groups[i]``
(lr/10, lr/3, lr);
``freeze_epochs`` epochs at the constant base rate training only the head, then every layer for
``epochs`` epochs under the schedule (stepped per iteration), as in fastai 0.7's
``learn.fit(lr, 1); learn.unfreeze(); learn.fit(lrs, 3, cycle_len=1, cycle_mult=2)``: a run
lasts ``freeze_epochs + epochs`` epochs (1 + 7 = 8 for the paper's SGDR runs, "on average 8").
Input pipeline (:mod:`micro_bench_torch.inputs`): uint8 batches from the dataset, then on the
device ``x / 255``, the run's ``transform`` (training batches; TTA views when predicting),
standardization with the train split's channel statistics. A
checkpoint after every epoch (atomic; resumed from), a NaN guard, progress bars, the learning
rate per iteration recorded and drawn (``lr.png``, the paper's Fig. 4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from micro_bench import Loss, RunContext, Sampler, Schedule, Split, Transform, TTAPolicy
from micro_bench.errors import ParameterError
from micro_bench_torch import distributed
from micro_bench_torch.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from micro_bench_torch.epochs import evaluator
from micro_bench_torch.errors import CheckpointError
from micro_bench_torch.figures import plot_lr_history, plot_sampled_classes
from micro_bench_torch.groups import (
    BN_FROZEN,
    OPTIMIZER_DEFAULT,
    build_optimizer,
    check_optimizer,
    describe_groups,
    describe_optimizer,
    set_trainable,
    train_mode,
)
from micro_bench_torch.inputs import (
    Batches,
    DevicePipeline,
    LoaderSettings,
    augmentation_seed,
    batch_loader,
    describe_transform,
    reader_for,
)
from micro_bench_torch.loops import mean_loss, predict_proba, train_epoch
from micro_bench_torch.lr_find import lr_find, lr_find_options
from micro_bench_torch.runtime import Runtime, epoch_seed, resolve_runtime

__all__ = ["TorchTrainer"]


class TorchTrainer:
    """Fits a ``nn.Module`` with ``layer_groups()`` on a :class:`~micro_bench.components.Dataset`.

    Args:
        batch_size: samples per optimizer step, over all processes under torchrun (each takes
            ``batch_size / world_size``): the paper's effective batch of 64 on any number of GPUs.
        micro_batch_size: split each process's share into chunks of this size whose gradients
            accumulate before the step (for memory; ``None``: no split). Same effective batch.
        sync_bn: under torchrun, BatchNorm statistics over all processes (``SyncBatchNorm``; CUDA).
        lr: the head's base learning rate; group ``i`` uses ``lr * lr_groups[i]``. ``"find"``:
            run the learning-rate finder first (head only while ``freeze_epochs`` > 0, as fastai
            0.7's ``lr_find`` before ``unfreeze``) and train with the rate its rule picks; the
            curve, the rule and the rate are recorded in the history (``lr_find``) and written to
            ``lr_find.json``/``lr_find.png``.
        lr_find: options of ``lr: find`` (:data:`~micro_bench_torch.lr_find.LR_FIND_DEFAULTS`:
            ``start_lr`` 1e-5, ``end_lr`` 10, ``num_iter`` null = one pass, ``rule`` ``min/10`` or
            ``steepest``, ``beta``, ``divergence``).
        lr_groups: one factor per layer group (paper: lr/10, lr/3, lr).
        freeze_epochs: epochs at the start training only the head, at the constant base rate.
        epochs: epochs after the frozen phase; ``None`` takes the schedule's own length.
        weight_decay: the optimizer's weight decay (Adam: L2 penalty; AdamW: decoupled); with
            ``weight_decay > 0`` biases, norm layers and timm's ``no_weight_decay()`` parameters
            get none, as timm's ``create_optimizer_v2`` does.
        optimizer: any name of ``timm.optim.list_optimizers()`` (``adam``, ``adamw``, ``sgd``
            (Nesterov), ``momentum``, ``rmsprop``, ``lamb``, ...), built by
            ``timm.optim.create_optimizer_v2``; default ``adam``, fastai 0.7's ``optim.Adam`` as
            the paper (betas 0.9/0.999, eps 1e-8). Recorded in the history (``optimizer``).
        momentum: momentum of the SGD-style optimizers (timm's default 0.9; unused by Adam).
        optimizer_options: further keywords of the optimizer (e.g. ``{betas: [0.9, 0.99], eps: 1e-6}``).
        clip: clip the total L2 norm of the trainable parameters' gradients to this value before
            every optimizer step (fastai 0.7's ``learner.clip``, which the paper's reference kernel
            sets to 1.0); ``null`` or 0: off.
        fresh_optimizer: build a new optimizer (empty moments) when the network is unfrozen after
            ``freeze_epochs``, as fastai 0.7's ``Learner.fit`` did on each call; ``false`` keeps
            one optimizer for the whole run.
        num_workers: DataLoader worker processes reading uint8 batches; ``"auto"``: 0 on the
            CPU, on CUDA the usable cores per local rank minus one, at most 8
            (:func:`~micro_bench_torch.inputs.auto_workers`).
        prefetch: batches each worker reads ahead (``"auto"``: 4 on CUDA).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        amp: bf16 autocast on CUDA (the paper trained in fp32: its benchmarks set ``amp: false``);
            the precision used is recorded in the history (``precision``).
        channels_last: NHWC memory format (``"auto"``: on).
        threads: CPU intra-op threads during fit/predict (``None``: torch's default).
        checkpoint: write ``checkpoints/last.pt`` after every epoch and resume from it.
        epoch_metrics: metric names (e.g. ``[f1_macro, roc_auc_macro]``) scored on the validation
            predictions after every epoch (threshold 0.5) by the run's metric plugins, into the
            history and ``epoch_end`` as ``val_<name>``; ``[]`` turns it off. It reuses the
            ``val_loss`` forward pass and costs ~0.01% of an epoch (benchmarks/perf/epoch_metrics.py).
        keep_checkpoint: keep ``last.pt`` (with the optimizer state) after the run's result is
            written; by default it is shrunk to ``checkpoints/model.pt`` (weights only, what
            ``micro-bench predict`` loads; written in both cases).
        bn_frozen: BatchNorm layers of frozen groups in ``eval`` mode (fastai 0.7: running
            statistics used and left unchanged) or ``train`` mode (batch statistics, running
            statistics updated).
    """

    #: ``fit`` takes a ``sampler`` (the optional Trainer member, see docs/hooks.md).
    accepts_sampler = True

    def __init__(
        self,
        batch_size: int = 64,
        lr: float | str = 0.02,
        lr_groups: Sequence[float] = (0.1, 0.333, 1.0),
        freeze_epochs: int = 1,
        epochs: int | None = None,
        weight_decay: float = 0.0,
        num_workers: int | str = "auto",
        prefetch: int | str = "auto",
        device: str = "auto",
        amp: bool = True,
        channels_last: bool | str = "auto",
        threads: int | None = None,
        checkpoint: bool = True,
        keep_checkpoint: bool = False,
        bn_frozen: str = "eval",
        epoch_metrics: Sequence[str] = ("f1_macro", "roc_auc_macro"),
        lr_find: Mapping[str, Any] | None = None,
        micro_batch_size: int | None = None,
        sync_bn: bool = False,
        optimizer: str = OPTIMIZER_DEFAULT,
        momentum: float = 0.9,
        optimizer_options: Mapping[str, Any] | None = None,
        clip: float | None = None,
        fresh_optimizer: bool = False,
    ) -> None:
        for key, value, low in (("batch_size", batch_size, 1), ("freeze_epochs", freeze_epochs, 0),
                                ("num_workers", 0 if num_workers == "auto" else num_workers, 0),
                                ("prefetch", 1 if prefetch == "auto" else prefetch, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError(f"trainer 'torch': {key} must be an integer >= {low}, got {value!r}")
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0):
            raise ParameterError(f"trainer 'torch': epochs must be an integer >= 0 or null, got {epochs!r}")
        numeric = isinstance(lr, (int, float)) and not isinstance(lr, bool)
        if not (lr == "find" or (numeric and float(lr) > 0)) or not all(f > 0 for f in lr_groups):
            raise ParameterError(f"trainer 'torch': lr must be > 0 or 'find' and lr_groups > 0, got {lr!r}, "
                             f"{list(lr_groups)!r}")
        self.lr: float | str = float(lr) if numeric else "find"
        self.lr_groups = tuple(float(f) for f in lr_groups)
        self.batch_size, self.lr_find = batch_size, lr_find_options(lr_find)
        self.freeze_epochs, self.epochs, self.weight_decay = freeze_epochs, epochs, float(weight_decay)
        self.num_workers, self.prefetch, self.checkpoint = num_workers, prefetch, bool(checkpoint)
        self.keep_checkpoint = bool(keep_checkpoint)
        if bn_frozen not in BN_FROZEN:
            raise ValueError(f"trainer 'torch': bn_frozen must be one of {', '.join(BN_FROZEN)}, got {bn_frozen!r}")
        self.bn_frozen = bn_frozen
        self.optimizer = check_optimizer(optimizer)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
            raise ParameterError(f"trainer 'torch': momentum must be a number in [0, 1), got {momentum!r}")
        if optimizer_options is not None and not isinstance(optimizer_options, Mapping):
            raise ParameterError("trainer 'torch': optimizer_options must be a mapping of the optimizer's "
                                 f"keywords (e.g. {{eps: 1e-6}}), got {optimizer_options!r}")
        self.momentum, self.optimizer_options = float(momentum), dict(optimizer_options or {})
        if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float)) or clip < 0):
            raise ParameterError(f"trainer 'torch': clip must be a number >= 0 (0 or null: off), got {clip!r}")
        self.clip = float(clip) if clip else None
        if not isinstance(fresh_optimizer, bool):
            raise ParameterError(f"trainer 'torch': fresh_optimizer must be true or false, got {fresh_optimizer!r}")
        self.fresh_optimizer = fresh_optimizer
        self.epoch_metrics = tuple(epoch_metrics)
        if micro_batch_size is not None and (isinstance(micro_batch_size, bool) or not isinstance(micro_batch_size, int)
                                             or micro_batch_size < 1):
            raise ValueError(f"trainer 'torch': micro_batch_size must be an integer >= 1 or null, got {micro_batch_size!r}")
        self.micro_batch_size, self.sync_bn = micro_batch_size, bool(sync_bn)
        self.runtime: Runtime = resolve_runtime(device, amp, channels_last, threads)
        if self.sync_bn and self.runtime.device.type != "cuda":
            raise ValueError("trainer 'torch': sync_bn needs CUDA devices (SyncBatchNorm); set sync_bn: false on "
                             f"{self.runtime.device.type}")
        #: ``(mean, std)`` of the train split, set by :meth:`fit` and used by :meth:`predict`.
        self.stats: tuple[np.ndarray, np.ndarray] | None = None
        self.sampler: Sampler | None = None

    def settings(self) -> dict[str, Any]:
        """The options that shape training (checked against a checkpoint before resuming)."""
        return {"batch_size": self.batch_size, "lr": self.lr, "lr_groups": list(self.lr_groups),
                **({"lr_find": self.lr_find} if self.lr == "find" else {}),
                "freeze_epochs": self.freeze_epochs, "epochs": self.epochs,
                "weight_decay": self.weight_decay, "bn_frozen": self.bn_frozen,
                # only when not the defaults, so that checkpoints written before these existed resume
                **({"optimizer": self.optimizer, "momentum": self.momentum}
                   if self.optimizer != OPTIMIZER_DEFAULT else {}),
                **({"optimizer_options": self.optimizer_options} if self.optimizer_options else {}),
                **({"clip": self.clip} if self.clip else {}),
                **({"fresh_optimizer": True} if self.fresh_optimizer else {})}

    def build_optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        """The run's optimizer over ``model``'s layer groups at base rate ``lr``."""
        return build_optimizer(model, lr, self.lr_groups, self.weight_decay, self.optimizer,
                               self.momentum, self.optimizer_options)

    def process_batch(self) -> int:
        """Samples each process takes per optimizer step (``batch_size`` without torchrun)."""
        world = distributed.world_size()
        if self.batch_size % world:
            raise ValueError(f"trainer 'torch': batch_size {self.batch_size} (the effective batch of one step) "
                             f"is not divisible by the {world} torchrun processes")
        return self.batch_size // world

    def accumulate(self) -> int:
        """Chunks of each process's batch whose gradients accumulate before a step."""
        if self.micro_batch_size is None:
            return 1
        return -(-self.process_batch() // self.micro_batch_size)

    def steps_per_epoch(self, n_train: int) -> int:
        """Optimizer steps per epoch for ``n_train`` samples (each process's shard under torchrun;
        a sampler's ``epoch_size`` when set)."""
        n_train = getattr(getattr(self, "sampler", None), "epoch_size", None) or n_train
        n, b = -(-n_train // distributed.world_size()), self.process_batch()
        return n // b if n % b == 1 else -(-n // b)

    def _loading(self) -> LoaderSettings:
        """This process's batch (``process_batch``), workers and prefetching for the loaders."""
        return LoaderSettings(self.process_batch(), self.num_workers, self.prefetch, self.runtime.device)

    def fit(self, model: nn.Module, dataset: Any, split: Split, *, loss: Loss | None,
            schedule: Schedule | None, transform: Transform | None = None,
            context: RunContext, sampler: Sampler | None = None) -> Mapping[str, Any]:
        """Train ``model`` in place on ``split.train``; return the history (per-epoch lists and
        ``lr_iter``). With a ``sampler``, each epoch draws ``sampler.epoch_size`` train samples with
        replacement from its weights (seeded per epoch) and records the class frequencies drawn."""
        if loss is None:
            raise ParameterError("trainer 'torch' needs a loss: set the config key 'loss' (e.g. loss: bce)")
        main_epochs = self.epochs if self.epochs is not None else getattr(schedule, "epochs", None)
        if main_epochs is None:
            raise ParameterError(
                "trainer 'torch': trainer.epochs is not set and the scheduler "
                f"({type(schedule).__name__ if schedule is not None else 'none'}) has no length of its "
                "own; set trainer.epochs"
            )
        if sampler is not None and distributed.world_size() > 1:
            raise ValueError("trainer 'torch': a sampler is not supported under torchrun yet; remove it or run on one GPU")
        self.sampler = sampler
        with self.runtime.threads_set():
            return self._fit(model, dataset, split.train, split.val, loss,
                             schedule, transform, context, self.freeze_epochs + main_epochs)

    def _fit(self, model: nn.Module, dataset: Any, train_idx: np.ndarray, val_idx: np.ndarray,
             loss: Loss, schedule: Schedule | None, transform: Transform | None, context: RunContext,
             total: int) -> dict[str, Any]:
        rt, main = self.runtime, distributed.is_main()
        distributed.setup(rt.device)
        self.stats = mean, std = dataset.channel_stats(train_idx)
        rt.model(model)
        if self.sync_bn:
            distributed.sync_batchnorm(model)
        path = Path(context.directory) / "checkpoints" / "last.pt"
        state = load_checkpoint(path) if self.checkpoint else None
        # A loss with per-class weights takes them from the train split's labels (recorded below).
        adapt = getattr(loss, "adapt", None)
        loss_weights = adapt(np.asarray(dataset.labels[train_idx], dtype=bool)) if callable(adapt) else {}
        found = self._find_lr(model, dataset, train_idx, loss, (mean, std), transform, context, state)
        base_lr = float(found["suggestion"]) if found is not None else float(self.lr)
        optimizer = self.build_optimizer(model, base_lr)
        groups = describe_groups(model, self.lr_groups)
        if "note" in groups:
            context.log(f"layer groups: {groups['note']}")
        pipeline = DevicePipeline(rt.device, mean, std, transform=transform, channels_last=rt.channels_last)
        read, loading = reader_for(dataset), self._loading()
        train_data = Batches(read, train_idx, dataset.labels[train_idx])
        val_loader = batch_loader(Batches(read, val_idx, dataset.labels[val_idx]), loading, shuffle_seed=None)
        steps = self.steps_per_epoch(len(train_idx))
        if steps < 1:
            raise ParameterError(f"trainer 'torch': the train split has {len(train_idx)} samples; need at least 2")
        history: dict[str, Any] = {"epoch": [], "train_loss": [], "val_loss": [], "lr": [],
                                   "seconds": [], "samples_per_s": [], "lr_iter": [],
                                   "precision": "bf16" if rt.amp else "fp32", "bn_frozen": self.bn_frozen,
                                   "base_lr": base_lr, **({"lr_find": found} if found is not None else {}),
                                   "optimizer": describe_optimizer(optimizer, self.optimizer),
                                   "layer_groups": groups, "clip": self.clip,
                                   "fresh_optimizer": self.fresh_optimizer,
                                   "transform": describe_transform(transform), "loader": loading.describe()}
        scheduler, start = None, 0
        if state is not None:
            if state.get("settings") != self.settings() or state.get("steps_per_epoch") != steps:
                raise CheckpointError(
                    f"checkpoint {path} was written with other trainer settings or data "
                    f"({state.get('settings')}, {state.get('steps_per_epoch')} steps per epoch); "
                    "delete it (or run with --force) to start over"
                )
            model.load_state_dict(state["model"])
            if state["epoch"] >= self.freeze_epochs and schedule is not None:
                scheduler = schedule.attach(optimizer, steps)
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None and state.get("scheduler") is not None:
                scheduler.load_state_dict(state["scheduler"])
            set_rng_state(state["rng"])
            history, start = state["history"], state["epoch"]
            context.log(f"resuming from {path} after epoch {start}/{total}")
        # What prediction must standardize with (micro_bench_predict's model.json reads it).
        history["channel_stats"] = {"mean": [float(v) for v in mean], "std": [float(v) for v in std]}
        if loss_weights:
            history["loss_weights"] = dict(loss_weights)
            context.log(f"loss: pos_weight {loss_weights.get('pos_weight_rule')} from {len(train_idx)} train samples, "
                        f"range {min(loss_weights['pos_weight']):.3g}..{max(loss_weights['pos_weight']):.3g}")
        index, count = getattr(context, "position", (1, 1))
        for epoch in range(start, total):
            frozen = epoch < self.freeze_epochs
            if self.fresh_optimizer and epoch == self.freeze_epochs > 0:
                # fastai 0.7: each fit() builds a new optimizer; the head's moments do not carry over
                optimizer, scheduler = self.build_optimizer(model, base_lr), None
                context.log(f"epoch {epoch + 1}: unfrozen with a fresh {self.optimizer} optimizer")
            if not frozen and scheduler is None and schedule is not None:
                scheduler = schedule.attach(optimizer, steps)
            set_trainable(model, frozen, len(self.lr_groups))
            seed = epoch_seed(context.seed, epoch)
            torch.manual_seed(seed)
            order = self._draw(dataset.labels[train_idx], seed, history)
            stats = train_epoch(
                distributed.wrap(model, rt.device),
                batch_loader(train_data, loading, shuffle_seed=seed, order=order), loss,
                optimizer, scheduler, rt, pipeline=pipeline,
                generator=torch.Generator().manual_seed(augmentation_seed(context.seed, epoch)),
                epoch=epoch + 1, progress=bool(context.progress) and main,
                mode=lambda net: train_mode(net, self.bn_frozen), accumulate=self.accumulate(), clip=self.clip,
                desc=f"run {index}/{count} {context.label} epoch {epoch + 1}/{total}"
                + (" (head only)" if frozen else ""),
            )
            val_scores: list[np.ndarray] | None = [] if self.epoch_metrics else None
            val_loss = mean_loss(model, val_loader, loss, rt, pipeline, scores=val_scores)
            scored = self._score_epoch(context, dataset.labels[val_idx], val_scores)
            for key, value in scored.items():
                history.setdefault(key, []).append(value)
            for key, value in (("epoch", epoch + 1), ("train_loss", stats.loss), ("val_loss", val_loss),
                               ("lr", stats.lrs[-1] if stats.lrs else base_lr), ("seconds", stats.seconds),
                               ("samples_per_s", stats.samples_per_s)):
                history[key].append(value)
            history["lr_iter"].extend(stats.lrs)
            if self.checkpoint and main:
                save_checkpoint(path, {
                    "format": 1, "epoch": epoch + 1, "total_epochs": total, "steps_per_epoch": steps,
                    "settings": self.settings(), "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "rng": rng_state(), "history": history,
                })
            distributed.barrier()
            context.log(f"epoch {epoch + 1}/{total}: train_loss={stats.loss:.4f} val_loss={val_loss:.4f} "
                        f"lr={history['lr'][-1]:.3g} ({stats.samples_per_s:.0f} samples/s)")
            context.epoch_end(epoch + 1, {"train_loss": stats.loss, "val_loss": val_loss,
                                          "lr": history["lr"][-1], **scored})
        set_trainable(model, False, len(self.lr_groups))
        if distributed.world_size() > 1:
            agree = distributed.weights_agree(model)
            history["ddp"] = {"world_size": distributed.world_size(), "process_batch": self.process_batch(),
                              "accumulate": self.accumulate(), "sync_bn": self.sync_bn, "weights_agree": agree}
            if not agree:
                raise RuntimeError("torchrun: the processes ended training with different weights; "
                                   "the result would depend on the rank that wrote it")
        # CPU results depend on the intra-op thread count (reduction order): record the one used.
        history["cpu_threads"] = torch.get_num_threads() if rt.device.type == "cpu" else None
        if main and history["lr_iter"]:
            plot_lr_history(history["lr_iter"], Path(context.directory) / "lr.png",
                            title=f"Learning rate per iteration ({context.label})" if context.label else "")
        if main and history.get("sampled_class_freq"):
            plot_sampled_classes(history["class_freq_train"], history["sampled_class_freq"],
                                 Path(context.directory) / "sampled_classes.png",
                                 title=f"Class frequencies seen in training ({context.label})" if context.label else "")
        return history

    def _draw(self, labels: np.ndarray, seed: int, history: dict[str, Any]) -> np.ndarray | None:
        """This epoch's train positions drawn by the sampler (``None`` without one); the class
        frequencies of the draw are appended to ``history["sampled_class_freq"]``."""
        if self.sampler is None:
            return None
        labels = np.asarray(labels, dtype=bool)
        weights = torch.as_tensor(np.asarray(self.sampler.weights(labels), dtype=np.float64))
        size = self.sampler.epoch_size or len(labels)
        drawn = torch.multinomial(weights, size, replacement=True, generator=torch.Generator().manual_seed(seed)).numpy()
        history.setdefault("class_freq_train", [float(v) for v in labels.mean(axis=0)])
        history.setdefault("sampled_class_freq", []).append([float(v) for v in labels[drawn].mean(axis=0)])
        return drawn

    def _score_epoch(self, context: RunContext, y_true: np.ndarray,
                     scores: list[np.ndarray] | None) -> dict[str, float]:
        """``val_<metric>`` of this epoch's validation predictions (empty when not asked for)."""
        if scores is None or not scores:
            return {}
        evaluate = evaluator(context)
        if evaluate is None:
            return {}
        values = evaluate(self.epoch_metrics, y_true, np.concatenate(scores))
        return {f"val_{name}": value for name, value in values.items()}

    def _find_lr(self, model: nn.Module, dataset: Any, train_idx: np.ndarray, loss: Loss,
                 stats: tuple[Any, Any], transform: Transform | None, context: RunContext,
                 state: Any) -> dict[str, Any] | None:
        """``lr: find``: the finder's record (``suggestion`` is the rate to train with), from the
        checkpoint when resuming, else from a sweep now; ``None`` for a numeric ``lr``."""
        if self.lr != "find":
            return None
        if state is not None and isinstance(state.get("history", {}).get("lr_find"), dict):
            return dict(state["history"]["lr_find"])
        result = lr_find(model, dataset, train_idx, loss=loss, batch_size=self.batch_size,
                         lr_groups=self.lr_groups, frozen=self.freeze_epochs > 0, transform=transform,
                         device=str(self.runtime.device), seed=context.seed, mean=stats[0], std=stats[1],
                         bn_frozen=self.bn_frozen, optimizer=self.build_optimizer(model, 1.0), **self.lr_find)
        if distributed.is_main():
            result.save(context.directory)
        context.log(f"lr_find: lr {result.suggestion:.3g} ({result.rule}; {len(result.lrs)} iterations, "
                    f"{result.stopped})")
        if result.warning:
            context.log(f"warning: lr_find: {result.warning}")
        return {**asdict(result), "options": dict(self.lr_find)}

    def finalize(self, context: RunContext) -> None:
        """Once the run's result is written, drop the resume state (``checkpoints/last.pt``): the
        trained model is in the run's model folder (:meth:`save`). ``keep_checkpoint: true`` keeps it."""
        last = Path(context.directory) / "checkpoints" / "last.pt"
        if not self.keep_checkpoint:
            last.unlink(missing_ok=True)

    def save(self, model: nn.Module, path: Path) -> None:
        """Write the trained weights and the channel statistics :meth:`predict` standardizes with to
        ``path / "model.pt"`` (atomic; readable with ``torch.load(weights_only=True)``)."""
        if self.stats is None:
            raise RuntimeError("trainer 'torch': save() called before fit() or load()")
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        save_checkpoint(Path(path) / "model.pt", {
            "format": 1, "model": state,
            "stats": {"mean": [float(v) for v in self.stats[0]], "std": [float(v) for v in self.stats[1]]}})

    def load(self, path: Path, model: nn.Module) -> nn.Module:
        """``model`` (the run's architecture, freshly built) with the weights :meth:`save` wrote in
        ``path``; restores the statistics :meth:`predict` uses. Refuses weights of another architecture."""
        file = Path(path) / "model.pt"
        state = load_checkpoint(file)
        if state is None:
            raise CheckpointError(f"{file}: missing; the run kept no trained weights")
        keys = model.load_state_dict(state["model"], strict=False)
        if keys.missing_keys or keys.unexpected_keys:
            raise CheckpointError(
                f"{file}: the weights do not fit the model ({len(keys.missing_keys)} weights missing, e.g. "
                f"{keys.missing_keys[:2]}; {len(keys.unexpected_keys)} unexpected, e.g. {keys.unexpected_keys[:2]})")
        self.stats = (np.asarray(state["stats"]["mean"], np.float64), np.asarray(state["stats"]["std"], np.float64))
        return model

    def predict(self, model: nn.Module, dataset: Any, indices: np.ndarray, *, tta: TTAPolicy | None,
                transform: Transform | None = None, context: RunContext) -> np.ndarray:
        """Sigmoid probabilities ``(len(indices), K) float32``, with the TTA policy when given
        (random views drawn with ``transform``), standardized with the statistics :meth:`fit` used."""
        indices = np.asarray(indices)
        if len(indices) == 0:
            return np.zeros((0, len(dataset.classes)), np.float32)
        rt = self.runtime
        with rt.threads_set():
            if self.stats is None:
                raise RuntimeError("trainer 'torch': predict() called before fit()")
            mean, std = self.stats
            pipeline = DevicePipeline(rt.device, mean, std, transform=transform, channels_last=rt.channels_last)
            loader = batch_loader(Batches(reader_for(dataset), indices, dataset.labels[indices]), self._loading(),
                                  shuffle_seed=None)
            return predict_proba(rt.model(model), loader, rt, pipeline, tta=tta, seed=context.seed,
                                 progress=bool(getattr(context, "progress", False)))

