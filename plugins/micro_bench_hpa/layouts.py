"""Generic image layouts of ``data convert`` (and of ``predict`` on a store made from one).

A :class:`Layout` says where a sample's pixels are (``pattern`` with ``{id}`` and ``{channel}``:
one file per channel; without ``{channel}``: one multi-channel file per sample), which channels
to keep, how a non-square image is made square (``fit``) and how 16-bit pixels are stored
(``to_uint8``). It is recorded in the store (attribute ``layout``) so that ``predict`` reads new
images the same way.

Presets: :data:`PRESETS` (``hpa2021``: the HPA Single-Cell Classification 2021 image-level layout).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_hpa.formats import IMAGE_EXTENSIONS, read_file
from micro_bench_hpa.readers import ReadError, SourceError, refuse_8bit_in_16bit, to_uint8

__all__ = ["FITS", "HPA2021_CLASSES", "PRESETS", "TO_UINT8", "Layout", "fit_square", "resize_any"]

#: How a non-square image becomes square: zero ``pad`` to the longer side (centred), centre
#: ``crop`` to the shorter side, or ``resize`` (stretch) straight to each resolution.
FITS: tuple[str, ...] = ("pad", "crop", "resize")
#: 16-bit to 8-bit mappings: ``257`` is ``round(x / 257)`` (0-65535 onto 0-255, the same for every
#: image); ``percentile`` maps each channel's [low, high] percentiles (over training images) onto 0-255.
TO_UINT8: tuple[str, ...] = ("257", "percentile")
#: Percentiles of the ``percentile`` rule, and how many training images they are computed over.
PERCENTILES = (0.1, 99.9)
PERCENTILE_SAMPLES = 64

#: The 19 classes of the HPA Single-Cell Classification 2021 competition, in label order.
HPA2021_CLASSES: tuple[str, ...] = (
    "Nucleoplasm", "Nuclear membrane", "Nucleoli", "Nucleoli fibrillar center", "Nuclear speckles",
    "Nuclear bodies", "Endoplasmic reticulum", "Golgi apparatus", "Intermediate filaments",
    "Actin filaments", "Microtubules", "Mitotic spindle", "Centrosome", "Plasma membrane",
    "Mitochondria", "Aggresome", "Cytosol", "Vesicles and punctate cytosolic patterns", "Negative",
)


@dataclass(frozen=True)
class Layout:
    """Where and how a sample's pixels are read.

    Attributes:
        pattern: relative to the source folder, with ``{id}`` and optionally ``{channel}``; a
            pattern without an extension matches any of :data:`~micro_bench_hpa.formats.IMAGE_EXTENSIONS`
            (two matching files for one channel are refused).
        channels: channel names (stored order); for a multi-channel file ``None`` takes them from
            its OME metadata (else ``ch0``, ``ch1``, ...), and names select and order its channels
            when the metadata names them.
        fit: ``None`` (non-square refused) or one of :data:`FITS`.
        to_uint8: ``None`` (16-bit kept as uint16) or one of :data:`TO_UINT8`.
        percentiles: ``{channel: [low, high]}`` of the ``percentile`` rule (computed by the converter).
        file_channels: the channel names of the multi-channel files (their order), when known.
    """

    pattern: str
    channels: tuple[str, ...] | None = None
    fit: str | None = None
    to_uint8: str | None = None
    percentiles: Mapping[str, Sequence[float]] = field(default_factory=dict)
    file_channels: tuple[str, ...] | None = None

    @property
    def per_channel(self) -> bool:
        """One file per channel (the pattern has ``{channel}``)."""
        return "{channel}" in self.pattern

    def to_attrs(self) -> dict[str, Any]:
        """The JSON form recorded in the store's ``layout`` attribute."""
        out = asdict(self)
        out["channels"] = list(self.channels or [])
        out["file_channels"] = list(self.file_channels) if self.file_channels is not None else None
        out["percentiles"] = {k: [float(x) for x in v] for k, v in self.percentiles.items()}
        return out

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> Layout:
        """The layout recorded by :meth:`to_attrs`."""
        return cls(pattern=str(attrs["pattern"]), channels=tuple(attrs.get("channels") or ()) or None,
                   fit=attrs.get("fit"), to_uint8=attrs.get("to_uint8"),
                   percentiles={k: tuple(v) for k, v in (attrs.get("percentiles") or {}).items()},
                   file_channels=tuple(attrs["file_channels"]) if attrs.get("file_channels") else None)

    def with_(self, **changes: Any) -> Layout:
        """A copy with ``changes``."""
        return replace(self, **changes)

    # --- files ------------------------------------------------------------------------------
    def discover(self, root: Path) -> list[str]:
        """The ids of the samples in ``root`` by the pattern (for a channel pattern: ids with a
        file of the first channel; a pattern without an extension: files of
        :data:`~micro_bench_hpa.formats.IMAGE_EXTENSIONS` only), sorted."""
        import re

        rel = self.pattern.replace("{channel}", (self.channels or ("",))[0]) if self.per_channel else self.pattern
        has_ext = Path(rel).suffix.lower() in (*IMAGE_EXTENSIONS, ".jpg", ".jpeg")
        glob = rel.replace("{id}", "*") + ("" if has_ext else ".*")
        parts = [re.escape(p) for p in rel.split("{id}")]
        exts = "|".join(re.escape(e) for e in sorted(IMAGE_EXTENSIONS, key=len, reverse=True))
        regex = re.compile("(?P<id>[^/]+?)".join(parts) + ("" if has_ext else f"({exts})") + "$")
        ids = set()
        for path in root.glob(glob):
            m = regex.match(path.relative_to(root).as_posix())
            if m:
                ids.add(m["id"])
        return sorted(ids)

    def files(self, root: Path, sid: str) -> list[Path]:
        """The files of sample ``sid``: one per channel (in channel order), or the one multi-channel
        file. Raises :class:`ReadError` ``missing_channel`` or ``duplicate_channel``."""
        if self.per_channel:
            assert self.channels
            return [self._find(root, self.pattern.format(id=sid, channel=c), sid, c) for c in self.channels]
        return [self._find(root, self.pattern.format(id=sid), sid, None)]

    def _find(self, root: Path, rel: str, sid: str, channel: str | None) -> Path:
        path = root / rel
        what = f"id {sid}" + (f", channel {channel}" if channel else "")
        if Path(rel).suffix.lower() in (*IMAGE_EXTENSIONS, ".jpg", ".jpeg"):
            if not path.exists():
                raise ReadError("missing_channel", path, f"{what}: no such file")
            return path
        found = [p for ext in IMAGE_EXTENSIONS if (p := path.with_name(path.name + ext)).exists()]
        if not found:
            raise ReadError("missing_channel", path, f"{what}: no file {path.name}.* "
                            f"({', '.join(IMAGE_EXTENSIONS)})")
        if len(found) > 1:
            raise ReadError("duplicate_channel", found[0], f"{what}: {len(found)} files "
                            f"({', '.join(p.name for p in found)}); keep one")
        return found[0]

    # --- pixels -----------------------------------------------------------------------------
    def read(self, files: Sequence[Path]) -> np.ndarray:
        """``(C, H, W)`` source pixels of one sample (uint8 or uint16), channels in stored order."""
        if self.per_channel:
            planes = [read_file(f) for f in files]
            for f, p in zip(files, planes, strict=True):
                if p.shape[0] != 1:
                    raise ReadError("wrong_dtype", f, f"{p.shape[0]} channels in one channel's file")
            shapes = {p.shape for p in planes}
            dtypes = {str(p.dtype) for p in planes}
            if len(dtypes) > 1:
                raise ReadError("mixed_bit_depth", files[0], f"channel files of types {sorted(dtypes)}; expected one")
            if len(shapes) > 1:
                raise ReadError("wrong_size", files[0], "channel files of different sizes "
                                + ", ".join(f"{f.name} {p.shape[2]}x{p.shape[1]}" for f, p in zip(files, planes, strict=True)))
            return np.concatenate(planes)
        a = read_file(files[0])
        return a[list(self.channel_index(a.shape[0], files[0]))]

    def channel_index(self, n: int, path: Path) -> list[int]:
        """Which planes of a multi-channel file (of ``n``) are the stored channels, in order: by
        :attr:`file_channels`, else by the file's OME channel names (a pattern given to
        ``predict``), else the channels are the file's planes in order."""
        names = list(self.file_channels) if self.file_channels else None
        if names is None:
            from micro_bench_hpa.formats import inspect_file

            names = inspect_file(path).channel_names
        if names is None:
            names = list(self.channels) if self.channels and len(self.channels) == n else [f"ch{i}" for i in range(n)]
        if len(names) != n:
            raise ReadError("wrong_size", path, f"{n} channels; the layout has {len(names)} ({', '.join(names)})")
        wanted = list(self.channels) if self.channels else names
        missing = [c for c in wanted if c not in names]
        if missing:
            raise ReadError("missing_channel", path, f"no channel {missing[0]!r}; the file has {', '.join(names)}")
        return [names.index(c) for c in wanted]

    def pixels(self, files: Sequence[Path], resolutions: Sequence[int], store_dtype: str, method: str = "box",
               into: Mapping[int, np.ndarray] | None = None) -> dict[int, np.ndarray]:
        """Decode, map to the store's type, fit and resize: ``{R: (C, R, R)}``."""
        a = self.read(files)
        if store_dtype == "uint8" and a.dtype == np.uint16:
            if self.to_uint8 == "257":  # the Kaggle path's rule (readers.refuse_8bit_in_16bit)
                refuse_8bit_in_16bit(list(a), files[0], "keep the 16 bits (no --to-uint8), use --to-uint8 "
                                     "percentile, or save the files as 8-bit")
            a = self.map_uint8(a)
        elif str(a.dtype) != store_dtype:
            raise ReadError("mixed_bit_depth", files[0], f"{a.dtype} pixels in a {store_dtype} store; "
                            "one bit depth per dataset (or --to-uint8 RULE)")
        a = fit_square(a, self.fit, files[0])
        out = {int(r): into[int(r)] if into is not None else np.empty((a.shape[0], int(r), int(r)), a.dtype)
               for r in resolutions}
        for r, dst in out.items():
            if min(a.shape[1:]) < r:
                raise ReadError("wrong_size", files[0], f"{a.shape[2]}x{a.shape[1]} px is below resolution {r}")
            for c in range(a.shape[0]):
                dst[c] = resize_any(a[c], r, method)
        return out

    def map_uint8(self, a: np.ndarray) -> np.ndarray:
        """``(C, H, W) uint16`` -> ``uint8`` by :attr:`to_uint8`."""
        if self.to_uint8 == "257":
            return to_uint8(a)
        if self.to_uint8 == "percentile":
            out = np.empty(a.shape, np.uint8)
            names = list(self.channels or [])
            for c in range(a.shape[0]):
                lo, hi = self.percentiles[names[c]]
                scaled = (a[c].astype(np.float64) - lo) * (255.0 / max(hi - lo, 1e-9))
                out[c] = np.clip(np.floor(scaled + 0.5), 0, 255).astype(np.uint8)
            return out
        raise ValueError(f"16-bit pixels need a to_uint8 rule in a uint8 store (one of {', '.join(TO_UINT8)})")


def fit_square(a: np.ndarray, fit: str | None, path: Path) -> np.ndarray:
    """``(C, H, W)`` made square by ``fit`` (``resize``: unchanged, :func:`resize_any` stretches)."""
    _, h, w = a.shape
    if h == w or fit == "resize":
        return a
    if fit is None:
        raise ReadError("wrong_size", path, f"{w}x{h} px is not square; choose --fit pad, crop or resize")
    if fit == "crop":
        s = min(h, w)
        y, x = (h - s) // 2, (w - s) // 2
        return a[:, y:y + s, x:x + s]
    if fit == "pad":
        s = max(h, w)
        out = np.zeros((a.shape[0], s, s), a.dtype)
        y, x = (s - h) // 2, (s - w) // 2
        out[:, y:y + h, x:x + w] = a
        return out
    raise ValueError(f"unknown fit {fit!r}; expected one of {', '.join(FITS)}")


def resize_any(a: np.ndarray, r: int, method: str = "box") -> np.ndarray:
    """``(H, W)`` uint8 or uint16 -> ``(r, r)`` of the same type: block means (exact, rounded half
    up) for a square of an integer factor, else area-weighted ``BOX`` resampling (uint8: Pillow's
    as in :func:`~micro_bench_hpa.readers.resize`; uint16: in float32, rounded)."""
    from PIL import Image

    from micro_bench_hpa.readers import resize

    if a.dtype == np.uint8 and a.shape[0] == a.shape[1]:
        return resize(a, r, method)
    if a.shape == (r, r):
        return a
    h, w = a.shape
    if h == w and h % r == 0:
        f = h // r
        total = a.reshape(r, f, r, f).sum(axis=3, dtype=np.uint64).sum(axis=1)
        return ((2 * total + f * f) // (2 * f * f)).astype(a.dtype)
    if a.dtype == np.uint8:
        return np.asarray(Image.fromarray(a).resize((r, r), Image.Resampling.BOX))
    out = np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((r, r), Image.Resampling.BOX))
    return np.clip(np.floor(out + 0.5), 0, np.iinfo(a.dtype).max).astype(a.dtype)


def _preset_hpa2021(src: Path) -> dict[str, Any]:
    return {
        "labels": src / "train.csv",
        "id_column": "ID",
        "label_column": "Label",
        "separator": "|",
        "classes": HPA2021_CLASSES,
        "channels": ("red", "green", "blue", "yellow"),
        "pattern": "train/{id}_{channel}" if (src / "train").is_dir() else "{id}_{channel}",
    }


#: ``--layout NAME``: defaults for the generic options (each still overridable).
PRESETS = {"hpa2021": _preset_hpa2021}


def preset(name: str, src: Path) -> dict[str, Any]:
    """The options of preset ``name`` for source folder ``src``."""
    if name not in PRESETS:
        raise SourceError(f"--layout {name!r}: unknown layout; expected one of {', '.join(PRESETS)}")
    return PRESETS[name](src)
