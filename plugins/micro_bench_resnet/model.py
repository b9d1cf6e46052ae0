"""timm classifiers with a C-channel stem, fastai 0.7's classifier head and its layer groups.

``resnet50_4ch`` is the paper's model: torchvision's ImageNet ResNet50 (timm ``resnet50.tv_in1k``)
whose first convolution takes the 4 HPA channels ``[red, green, blue, yellow]``, the head fastai
0.7's ``ConvLearner.pretrained(resnet50, data, ps=0.5)`` put on the cut body (``head="fastai"``,
see :func:`fastai_head`) or timm's average pool, dropout and one linear layer
(``head="linear"``), and three layer groups for differential learning rates and freezing.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import timm
import torch
from timm.models import group_parameters
from torch import nn

from micro_bench.errors import ComponentError, ParameterError

__all__ = [
    "HEADS",
    "STEM_INITS",
    "TimmClassifier",
    "fastai_head",
    "resnet18_4ch",
    "resnet34_4ch",
    "resnet50_4ch",
    "check_timm_keywords",
    "check_timm_name",
    "fixed_input_size",
    "input_size_message",
    "stem_weight",
    "timm_keywords",
    "timm_model",
]

#: How a pretrained 3-channel stem becomes a C-channel one (:func:`stem_weight`'s table).
STEM_INITS = ("copy_red", "timm", "zeros", "mean")
StemInit = Literal["copy_red", "timm", "zeros", "mean"]

#: Classifier heads: fastai 0.7's (two BatchNorm/Dropout/Linear blocks on concatenated average
#: and max pooling) or timm's own (average pooling, dropout, one linear layer).
HEADS = ("fastai", "linear")
Head = Literal["fastai", "linear"]
DropoutSpec = float | Sequence[float]

#: fastai 0.7's default hidden layer of the head (``xtra_fc=[512]``).
FASTAI_HIDDEN = 512


class _TimmNet(Protocol):
    """The attributes this module reads from a timm model beyond ``nn.Module``'s."""

    num_features: int
    pretrained_cfg: dict[str, Any]

    def get_classifier(self) -> nn.Module: ...

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]: ...


def _timm(net: nn.Module) -> _TimmNet:
    # cast: timm types create_model() as a plain nn.Module, and torch's stubs type every attribute
    # that nn.Module does not declare (timm's methods and plain attributes) as ``Tensor | Module``.
    return cast(_TimmNet, net)


def _pair(value: tuple[int, ...]) -> tuple[int, int]:
    """A Conv2d's ``kernel_size``/``stride``/``padding``/``dilation`` (torch types them ``tuple[int, ...]``)."""
    first, second = value
    return first, second


class TimmClassifier(nn.Module):
    """A timm model with ``layer_groups()``: ``[stem..middle], [rest of the body], [head]``.

    ``forward``: ``(B, C, H, W) float32`` -> logits ``(B, K)``. The wrapped timm model is
    ``self.net``; with a separate ``head`` (fastai's), ``self.net`` ends with the pooled features
    and ``self.head`` maps them to the logits.
    """

    def __init__(self, net: nn.Module, head: nn.Module | None = None, *,
                 input_size: tuple[int, int] | None = None, name: str = "") -> None:
        super().__init__()
        self.net = net
        self.head = head
        #: the one (H, W) the network accepts (ViT, Swin with a strict ``img_size``), else None
        self.input_size = input_size
        self.name = name or f"timm:{type(net).__name__}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_size is not None and tuple(x.shape[-2:]) != self.input_size:
            raise ParameterError(input_size_message(self.name, self.input_size, (int(x.shape[-2]), int(x.shape[-1]))))
        features = self.net(x)
        return features if self.head is None else self.head(features)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Three lists of parameters, each parameter exactly once, in network order.

        The body is split with timm's coarse ``group_matcher`` (for ResNets: stem, layer1..layer4)
        into its first half (stem..layer2) and second half (layer3, layer4), as fastai 0.7 cut
        torchvision's ResNets (``model_meta``: ``lr_cut`` 6 of the body's 8 children); the third
        group is the classifier (``self.head``, or timm's ``get_classifier()``).
        """
        classifier = self.head if self.head is not None else _timm(self.net).get_classifier()
        head_ids = {id(p) for p in classifier.parameters()}
        named = dict(self.net.named_parameters())
        groups = group_parameters(self.net, _timm(self.net).group_matcher(coarse=True))
        body = [
            [named[n] for n in names if id(named[n]) not in head_ids] for names in groups.values()
        ]
        body = [g for g in body if g]
        cut = math.ceil(len(body) / 2)
        first = [p for g in body[:cut] for p in g]
        second = [p for g in body[cut:] for p in g]
        return [first, second, list(classifier.parameters())]


def _dropouts(dropout: DropoutSpec, arch: str) -> tuple[float, float]:
    """fastai 0.7's ``ps`` for a head with one hidden layer: a number is used for both dropout
    layers (``ConvnetBuilder``: ``self.ps = [ps] * n_fc``), a list gives one rate per layer."""
    values = [dropout] if isinstance(dropout, (int, float)) else list(dropout)
    if len(values) == 1:
        values = values * 2
    ok = len(values) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1 for v in values
    )
    if not ok:
        raise ComponentError(
            f"model {arch!r}: dropout must be a number in [0, 1) or a list of 2 (one per dropout "
            f"layer of the fastai head), got {dropout!r}"
        )
    return float(values[0]), float(values[1])


def fastai_head(in_features: int, num_classes: int, dropout: DropoutSpec = 0.5,
                hidden: int = FASTAI_HIDDEN) -> nn.Sequential:
    """fastai 0.7's classifier head on ``in_features`` concatenated (average, max) pooled features.

    ``BatchNorm1d(in) -> Dropout(p0) -> Linear(in, hidden) -> ReLU -> BatchNorm1d(hidden) ->
    Dropout(p1) -> Linear(hidden, num_classes)`` (``ConvnetBuilder.get_fc_layers`` with
    ``xtra_fc=[512]``); fastai's final ``Sigmoid`` is left to the loss (the model returns logits).
    Initialised as fastai did: linear weights Kaiming-normal (fan in, ReLU gain), biases 0
    (``apply_init(fc_model, kaiming_normal)``), BatchNorm weights uniform in [0, 1) and biases 0
    (the torch <= 1.1 default fastai 0.7 ran on).
    """
    p0, p1 = _dropouts(dropout, "fastai head")
    layers: list[nn.Module] = [nn.BatchNorm1d(in_features)]
    layers += [nn.Dropout(p0)] if p0 else []
    layers += [nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.BatchNorm1d(hidden)]
    layers += [nn.Dropout(p1)] if p1 else []
    layers += [nn.Linear(hidden, num_classes)]
    head = nn.Sequential(*layers)
    with torch.no_grad():
        for module in head:
            if isinstance(module, nn.Linear):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm1d):
                nn.init.uniform_(module.weight)
                nn.init.zeros_(module.bias)
    return head


def stem_weight(weight: torch.Tensor, in_chans: int, stem_init: StemInit) -> torch.Tensor:
    """Adapt a 3-channel stem kernel ``(O, 3, k, k)`` to ``(O, in_chans, k, k)``, any C >= 1.

    ============  ==========================================  ==================================
    rule          C = 1, 2                                    C >= 3
    ============  ==========================================  ==================================
    ``copy_red``  the first C of the R, G, B kernels          R, G, B kept; channel 4.. = R (paper)
    ``zeros``     the first C of the R, G, B kernels          R, G, B kept; channel 4.. = 0 (fastai)
    ``mean``      every channel: mean of R, G, B x 3 / C      same
    ``timm``      timm's ``adapt_input_conv``: C = 1: R+G+B;  R, G, B repeated, x 3 / C
                  C = 2: R, G x 3 / 2
    ============  ==========================================  ==================================

    (docs/models.md has the same table.)
    """
    if not isinstance(in_chans, int) or in_chans < 1:
        raise ValueError(f"stem_init {stem_init!r}: in_chans must be an integer >= 1, got {in_chans!r}")
    if stem_init == "timm":
        from timm.models import adapt_input_conv

        return adapt_input_conv(in_chans, weight)
    if stem_init == "mean":
        return (weight.mean(dim=1, keepdim=True) * (3 / in_chans)).expand(-1, in_chans, -1, -1).contiguous()
    if stem_init not in ("copy_red", "zeros"):
        raise ValueError(f"unknown stem_init {stem_init!r}; expected one of {', '.join(STEM_INITS)}")
    if in_chans <= 3:
        return weight[:, :in_chans].contiguous()
    extra = in_chans - 3
    if stem_init == "copy_red":
        fill = weight[:, :1].expand(-1, extra, -1, -1)
    else:
        fill = weight.new_zeros(weight.shape[0], extra, *weight.shape[2:])
    return torch.cat([weight, fill], dim=1).contiguous()


def _pretrained_kwargs(pretrained: bool | str | None, arch: str) -> dict[str, Any]:
    """timm ``create_model`` keywords for ``pretrained``: ``imagenet``/True, a file, or False."""
    if pretrained in (False, None, "false", "none", ""):
        return {"pretrained": False}
    if pretrained is True or pretrained == "imagenet":
        from micro_bench_resnet.hub import check_imagenet_weights

        check_imagenet_weights(arch)  # offline: one line and a way out, not 50 s of retries
        return {"pretrained": True}  # timm's hub: torchvision's original weights for *.tv_in1k
    path = Path(str(pretrained)).expanduser()
    if not path.is_file():
        raise ComponentError(
            f"model {arch!r}: pretrained={str(pretrained)!r} is neither 'imagenet', false, nor an "
            "existing file (expected a 3-channel ImageNet state dict saved with torch.save)"
        )
    return {"pretrained": True, "pretrained_cfg_overlay": {"file": str(path)}}


#: ``create_model`` keywords the wrapper sets itself (``dropout`` is the linear head's drop_rate).
OWN_KEYWORDS = frozenset({"num_classes", "in_chans", "pretrained", "pretrained_cfg", "pretrained_cfg_overlay",
                          "drop_rate", "features_only", "checkpoint_path", "device", "dtype"})
#: ``create_model`` keywords every timm model takes besides its class's own.
CREATE_KEYWORDS = ("scriptable", "exportable", "no_jit")


def timm_keywords(arch: str) -> tuple[dict[str, Any], bool]:
    """The ``create_model`` keywords ``arch`` takes with their defaults (its model class's
    ``__init__`` arguments, found by building it on the meta device, plus
    :data:`CREATE_KEYWORDS`, less :data:`OWN_KEYWORDS`), and whether the class also takes
    ``**kwargs`` (then other keywords are left to timm to check)."""
    names, open_ended = _timm_keywords(arch)
    return dict(names), open_ended


@functools.lru_cache(maxsize=64)
def _timm_keywords(arch: str) -> tuple[tuple[tuple[str, Any], ...], bool]:
    import inspect

    with torch.device("meta"):
        net = timm.create_model(arch, pretrained=False)
    params = list(inspect.signature(type(net).__init__).parameters.values())[1:]
    found = [(p.name, None if p.default is p.empty else p.default) for p in params
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    found += [(n, False) for n in CREATE_KEYWORDS]
    open_ended = any(p.kind == p.VAR_KEYWORD for p in params)
    return tuple((n, d) for n, d in found if n not in OWN_KEYWORDS), open_ended


def check_timm_name(arch: str) -> None:
    """Raise a one-line :class:`ComponentError` (with the closest names) if timm has no ``arch``."""
    if timm.is_model(arch) and ("." not in arch or arch in timm.list_pretrained(arch)):
        return
    import difflib

    names = timm.list_pretrained() if "." in arch else timm.list_models()
    close = difflib.get_close_matches(arch, names, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join('timm:' + c for c in close)}? " if close else ""
    raise ComponentError(f"unknown timm model 'timm:{arch}'; {hint}"
                         f"see micro-bench list model 'timm:{arch.split('.')[0][:4]}*'")


def check_timm_keywords(arch: str, keywords: Mapping[str, Any], head: str = "linear") -> None:
    """A one-line :class:`ComponentError` for a keyword ``arch``'s ``create_model`` does not take."""
    for key in keywords:
        if key in OWN_KEYWORDS:
            fix = {"drop_rate": "use dropout (the linear head's drop_rate)",
                   "in_chans": "it comes from the dataset's channels",
                   "num_classes": "it comes from the dataset's classes",
                   "device": "the trainer places the model", "dtype": "the trainer sets the precision",
                   "pretrained_cfg_overlay": "use pretrained: FILE"}.get(key, "micro-bench sets it")
            raise ComponentError(f"model 'timm:{arch}': {key} cannot be set ({fix})")
        if key == "global_pool" and head == "fastai":
            raise ComponentError(f"model 'timm:{arch}': global_pool cannot be set with head: fastai "
                                 "(it pools average and max, catavgmax); use head: linear")
    names, open_ended = timm_keywords(arch)
    unknown = [k for k in keywords if k not in names]
    if unknown and not open_ended:
        import difflib

        close = difflib.get_close_matches(unknown[0], names, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ComponentError(f"model 'timm:{arch}': unknown timm keyword {unknown[0]!r}; {hint}"
                             f"its create_model keywords: {', '.join(names)}")


def input_size_message(name: str, takes: tuple[int, int], given: tuple[int, int], source: str = "the run") -> str:
    """The one line for a fixed-size model given another input size by ``source``, with the fix."""
    h, w = given
    fix = f"img_size: {h}" if h == w else f"img_size: [{h}, {w}]"
    return (f"model {name!r} takes {takes[0]}x{takes[1]} inputs but {source} gives {h}x{w}; set model.{fix} "
            "(or dynamic_img_size: true where the model has it)")


def fixed_input_size(net: nn.Module) -> tuple[int, int] | None:
    """The one input size (H, W) ``net`` accepts, for patch-embedding models built with a strict
    ``img_size`` (ViT, Swin, ...); ``None`` when any size works."""
    for module in net.modules():
        size = getattr(module, "img_size", None)
        if size is not None and getattr(module, "strict_img_size", False) \
                and not getattr(module, "dynamic_img_size", False) and not getattr(module, "dynamic_img_pad", False):
            return (int(size[0]), int(size[1])) if isinstance(size, (tuple, list)) else (int(size), int(size))
    return None


def timm_model(
    arch: str,
    num_classes: int,
    in_chans: int = 4,
    pretrained: bool | str | None = False,
    stem_init: StemInit = "copy_red",
    dropout: DropoutSpec = 0.0,
    seed: int | None = None,
    head: Head = "linear",
    **timm_kwargs: Any,
) -> TimmClassifier:
    """Any timm classifier with ``in_chans`` inputs, ``num_classes`` logits and layer groups.

    Args:
        arch: timm name, e.g. ``"resnet50.tv_in1k"``.
        num_classes: K outputs (logits; sigmoid is applied at prediction).
        in_chans: C input channels (1..8 and more); ``[red, green, blue, yellow]`` for HPA.
        pretrained: ``"imagenet"`` (timm hub), a local 3-channel state-dict file (loaded by timm
            through ``pretrained_cfg_overlay=dict(file=...)``), or ``False`` (random init).
        stem_init: how a 3-channel stem becomes C channels: ``copy_red``, ``zeros``, ``mean`` or
            ``timm`` (see :func:`stem_weight`). ``timm`` (and C = 3) builds the model with timm's
            ``in_chans``; the others adapt timm's 3-channel stem in place, keeping its layer type
            and padding (``Conv2dSame`` stays).
        dropout: ``linear`` head: the rate before the classifier (timm ``drop_rate``). ``fastai``
            head: fastai's ``ps``, one number for both dropout layers or a list of two.
        seed: seeds the random initialisation (head, stem, or the whole net when not pretrained)
            without touching the global RNG; the runner passes the run's seed.
        head: ``fastai`` (:func:`fastai_head` on timm's ``catavgmax`` pooling, 2x the body's
            features) or ``linear`` (timm's average pool, dropout, ``Linear(features, K)``).
        timm_kwargs: any other keyword of timm's ``create_model`` for this model (``img_size``,
            ``drop_path_rate``, ``window_size``, ...), checked against the model's signature.
    """
    check_timm_name(arch)
    check_timm_keywords(arch, timm_kwargs, head)
    if seed is None:
        return _timm_model(arch, num_classes, in_chans, pretrained, stem_init, dropout, head, timm_kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _timm_model(arch, num_classes, in_chans, pretrained, stem_init, dropout, head, timm_kwargs)


def _timm_model(arch: str, num_classes: int, in_chans: int, pretrained: bool | str | None,
                stem_init: StemInit, dropout: DropoutSpec, head: Head,
                timm_kwargs: Mapping[str, Any]) -> TimmClassifier:
    if stem_init not in STEM_INITS:
        raise ComponentError(
            f"model {arch!r}: unknown stem_init {stem_init!r}; expected one of {', '.join(STEM_INITS)}"
        )
    if head not in HEADS:
        raise ComponentError(f"model {arch!r}: unknown head {head!r}; expected one of {', '.join(HEADS)}")
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise ComponentError(f"model {arch!r}: in_chans must be an integer >= 1, got {in_chans!r}")
    if head == "fastai":
        _dropouts(dropout, arch)  # checked before the (possibly slow) body is built
        body_kwargs: dict[str, Any] = {"num_classes": 0, "global_pool": "catavgmax"}
    elif isinstance(dropout, (int, float)) and not isinstance(dropout, bool) and 0 <= dropout < 1:
        body_kwargs = {"num_classes": num_classes, "drop_rate": float(dropout)}
    else:
        raise ComponentError(f"model {arch!r}: dropout of the linear head must be a number in [0, 1), got {dropout!r}")
    kwargs = _pretrained_kwargs(pretrained, arch)
    timm_adapts = stem_init == "timm" or in_chans == 3
    try:
        net = timm.create_model(arch, in_chans=in_chans if timm_adapts else 3, **body_kwargs, **kwargs,
                                **timm_kwargs)
    except (RuntimeError, TypeError, AssertionError) as error:  # unknown architecture, keyword or value
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ComponentError(f"model 'timm:{arch}': timm refused {dict(timm_kwargs)!r}: {detail}") from error
    if not timm_adapts:
        _replace_stem(net, in_chans, stem_init, arch)
    size = fixed_input_size(net)
    if head == "linear":
        return TimmClassifier(net, input_size=size, name=f"timm:{arch}")
    return TimmClassifier(net, fastai_head(_timm(net).num_features * 2, num_classes, dropout),
                          input_size=size, name=f"timm:{arch}")


def _replace_stem(net: nn.Module, in_chans: int, stem_init: StemInit, arch: str) -> None:
    """Give the first convolution ``in_chans`` inputs initialised by :func:`stem_weight`; the
    layer keeps its type (``Conv2dSame``, ``StdConv2d``, ...), padding and other settings."""
    name = _timm(net).pretrained_cfg.get("first_conv", "conv1")
    if isinstance(name, (list, tuple)):
        name = name[0]
    try:
        old = net.get_submodule(name)
    except AttributeError:
        old = None
    if not isinstance(old, nn.Conv2d):
        raise ComponentError(
            f"model 'timm:{arch}': its first layer {name!r} is not a Conv2d, so stem_init "
            f"{stem_init!r} cannot adapt it; use stem_init: timm (timm's own in_chans)"
        )
    new = copy.deepcopy(old)
    weight = stem_weight(old.weight.detach(), in_chans, stem_init)
    # Draw what a fresh Conv2d(in_chans, ...) would draw (kaiming_uniform_ weight, uniform_ bias),
    # so that what is initialised after the stem (the fastai head) is unchanged from before the
    # stem kept its layer type.
    torch.empty_like(weight).uniform_()
    if old.bias is not None:
        torch.empty_like(old.bias).uniform_()
    new.weight = nn.Parameter(weight, requires_grad=old.weight.requires_grad)
    new.in_channels = in_chans
    parent, _, attr = name.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, attr, new)


def _variant(arch: str, name: str, doc: str) -> Callable[..., TimmClassifier]:
    """A named factory for one timm architecture with the paper's defaults (ImageNet weights,
    ``copy_red`` stem, fastai's head with dropout 0.5); its signature is what configs are checked
    against."""

    def factory(
        num_classes: int,
        in_chans: int = 4,
        pretrained: bool | str | None = "imagenet",
        stem_init: StemInit = "copy_red",
        dropout: DropoutSpec = 0.5,
        seed: int | None = None,
        head: Head = "fastai",
    ) -> TimmClassifier:
        return timm_model(arch, num_classes, in_chans, pretrained, stem_init, dropout, seed, head)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"{doc} (``{arch}``); see :func:`timm_model` for the arguments."
    return factory


resnet50_4ch = _variant("resnet50.tv_in1k", "resnet50_4ch", "The paper's ResNet50")
resnet34_4ch = _variant("resnet34.tv_in1k", "resnet34_4ch", "ResNet34")
resnet18_4ch = _variant("resnet18.tv_in1k", "resnet18_4ch", "ResNet18")
