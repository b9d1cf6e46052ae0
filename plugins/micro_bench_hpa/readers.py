"""Readers for HPA sources: label CSVs, per-channel image files, decoding and resizing.

Supported layouts (``SRC`` is the folder given to ``micro-bench data convert``):

* Kaggle 2018: ``SRC/train.csv`` and ``SRC/train/<id>_{red,green,blue,yellow}.png`` (8-bit,
  512x512), or the same files flat in ``SRC``.
* Full-size release: the same naming with 16-bit PNG or TIFF fields (2048x2048 or 3072x3072);
  other files in the folder (``*_cellmask.png``, ``*_nucleimask.png``) are ignored.
* HPA v18 external data: ``SRC/HPAv18RBGY_wodpl.csv`` with ids such as ``10580_1610_C1_1``;
  channel files may be RGB-coloured (as downloaded from proteinatlas.org).

Intensity rules (documented in docs/data.md):

* 16-bit: ``uint8 = round(x / 257)``: the linear map of the full 0-65535 range onto 0-255
  (65535 -> 255), the same for every image, so intensities stay comparable across samples
  (no per-image contrast stretch).
* RGB-coloured channel files: the channel's own colour plane (red -> R, green -> G, blue -> B,
  yellow -> mean of R and G).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from micro_bench_hpa.classes import HPA_CHANNELS, N_CLASSES
from micro_bench_hpa.errors import ReadError, SourceError, require_regular

__all__ = [
    "ALLOWED_SIZES",
    "LABEL_CSVS",
    "ReadError",
    "SourceError",
    "find_label_csv",
    "image_folder",
    "index_images",
    "inspect_image",
    "load_sample",
    "parse_label_rows",
    "read_channel",
    "read_channels",
    "read_raw_channel",
    "refuse_8bit_in_16bit",
    "RESIZE_METHODS",
    "resize",
    "resize_channels",
    "to_uint8",
]

#: Label files looked for in SRC, in order.
LABEL_CSVS: tuple[str, ...] = ("train.csv", "HPAv18RBGY_wodpl.csv")
#: Accepted square sides of a channel image.
ALLOWED_SIZES: tuple[int, ...] = (512, 1024, 2048, 3072)
_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
_NAME = re.compile(r"^(?P<id>.+)_(?P<color>red|green|blue|yellow)$")
_MODES = {"L": "uint8", "I;16": "uint16", "I;16B": "uint16", "I;16L": "uint16", "I": "uint16", "RGB": "uint8"}


def find_label_csv(src: Path) -> Path:
    """The label CSV in ``src`` (see :data:`LABEL_CSVS`), or a clear error."""
    for name in LABEL_CSVS:
        if (src / name).is_file():
            return src / name
    raise SourceError(f"{src}: no label CSV found; expected one of {', '.join(LABEL_CSVS)} (columns Id,Target)")


def image_folder(src: Path) -> Path:
    """``src/train`` when it exists (the Kaggle zip layout), else ``src`` itself (flat)."""
    return src / "train" if (src / "train").is_dir() else src


def parse_label_rows(path: Path) -> tuple[list[tuple[str, list[int]]], list[tuple[str, str, str]]]:
    """Parse ``Id,Target`` rows leniently.

    Returns:
        ``(rows, issues)``: rows are ``(id, sorted unique class indices)`` of the good lines;
        issues are ``(kind, id, detail)`` for ``bad_label``, ``empty_target`` and ``duplicate_id``
        (every occurrence of a duplicated id is dropped).
    """
    rows: list[tuple[str, list[int]]] = []
    issues: list[tuple[str, str, str]] = []
    seen: dict[str, int] = {}
    reader = None
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # a BOM (Excel's CSVs) is fine
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"Id", "Target"} <= set(reader.fieldnames):
                raise SourceError(f"{path}: expected a CSV with columns Id,Target, got {reader.fieldnames}")
            _parse_rows(path, reader, rows, issues, seen)
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save it as UTF-8") from None
    except csv.Error as exc:
        raise SourceError(f"{path}:{reader.line_num if reader else 1}: malformed CSV ({exc})") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})") from None
    dups = {s for s, c in seen.items() if c > 1}
    issues += [("duplicate_id", s, f"{path.name}: id listed {seen[s]} times") for s in sorted(dups)]
    return [r for r in rows if r[0] not in dups], issues


def _parse_rows(path: Path, reader: csv.DictReader, rows: list, issues: list, seen: dict[str, int]) -> None:
    """The good rows of ``reader`` into ``rows``, the bad ones into ``issues``."""
    for line, row in enumerate(reader, start=2):
        sid, target = (row["Id"] or "").strip(), (row["Target"] or "").strip()
        seen[sid] = seen.get(sid, 0) + 1
        if not target:
            issues.append(("empty_target", sid, f"{path.name}:{line}: no class index"))
            continue
        try:
            classes = sorted({int(t) for t in target.split()})
        except ValueError:
            issues.append(("bad_label", sid, f"{path.name}:{line}: Target {target!r} is not integers"))
            continue
        if classes[0] < 0 or classes[-1] >= N_CLASSES:
            issues.append(("bad_label", sid, f"{path.name}:{line}: label outside 0-{N_CLASSES - 1} in {target!r}"))
            continue
        rows.append((sid, classes))


def index_images(folder: Path, duplicates: dict[str, list[Path]] | None = None) -> dict[str, dict[str, Path]]:
    """``{id: {color: path}}`` of every ``<id>_<color>.<ext>`` file in ``folder``.

    Two files for one channel of one id (``a_red.png`` and ``a_red.tif``) are never resolved
    silently: ``duplicates`` (when given) receives ``{id: [files]}`` of each such id, which callers
    refuse by name (the index keeps the first file by name)."""
    out: dict[str, dict[str, Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in _EXTENSIONS:
            continue
        m = _NAME.match(p.stem)
        if m:
            have = out.setdefault(m["id"], {})
            if m["color"] in have:
                if duplicates is not None:
                    files = duplicates.setdefault(m["id"], [])
                    files += [f for f in (have[m["color"]], p) if f not in files]
                continue
            have[m["color"]] = p
    return out


def inspect_image(path: Path) -> tuple[int, int, str]:
    """Read only the header: ``(width, height, dtype)``; :class:`ReadError` ``unreadable``/``wrong_dtype``."""
    require_regular(path)
    try:
        with Image.open(path) as im:
            w, h, mode = im.width, im.height, im.mode
    except Exception as exc:  # PIL raises many types for non-images
        raise ReadError("unreadable", path, f"not a readable image ({type(exc).__name__}: {exc})") from None
    if path.suffix.lower() in (".tif", ".tiff"):  # Pillow shows signed and 32-bit TIFFs as "I"
        from micro_bench_hpa.formats import check_dtype

        try:
            import tifffile

            with tifffile.TiffFile(path) as tif:
                dtype = tif.series[0].dtype
        except Exception as exc:  # noqa: BLE001 - tifffile raises many types for damaged files
            raise ReadError("unreadable", path, f"not a readable TIFF ({type(exc).__name__}: {exc})") from None
        return w, h, check_dtype(dtype, path)
    if mode not in _MODES:
        raise ReadError("wrong_dtype", path, f"pixel mode {mode!r}; expected 8-bit (L), 16-bit (I;16) or RGB")
    return w, h, _MODES[mode]


def to_uint8(a: np.ndarray) -> np.ndarray:
    """Map ``uint8`` (unchanged) or ``uint16`` (``round(x / 257)``) pixels to ``uint8``."""
    if a.dtype == np.uint8:
        return a
    if a.dtype in (np.uint16, np.int32, np.uint32) and a.max(initial=0) <= 65535:
        return ((a.astype(np.uint32) * 2 + 257) // 514).astype(np.uint8)
    raise ValueError(f"cannot map pixels of dtype {a.dtype} to uint8")


def read_channel(path: Path, color: str) -> np.ndarray:
    """Decode one channel file to ``(H, W) uint8`` by the module's intensity rules (a 16-bit file is
    checked by :func:`refuse_8bit_in_16bit` on its own: a sample's files are checked together by
    :func:`read_channels`); signed, floating-point and wider-than-16-bit pixel types are refused by
    name (``wrong_dtype``; :mod:`micro_bench_hpa.formats`)."""
    return read_channels([(path, color)])[0]


def read_channels(files: Sequence[tuple[Path, str]]) -> list[np.ndarray]:
    """Decode the channel files of one sample (``(path, color)`` each) to ``(H, W) uint8`` planes:
    :func:`read_raw_channel`, then :func:`refuse_8bit_in_16bit` over the sample, then
    :func:`to_uint8`."""
    raw = [read_raw_channel(path, color) for path, color in files]
    refuse_8bit_in_16bit(raw, files[0][0], "save the files as 8-bit")
    out = []
    for (path, _), a in zip(files, raw, strict=True):
        try:
            out.append(to_uint8(a))
        except ValueError as exc:
            raise ReadError("wrong_dtype", path, str(exc)) from None
    return out


#: The one rule for 16-bit files holding 8-bit values (docs/data.md "16-bit files holding 8-bit
#: values"): with the fixed ``round(x / 257)`` mapping (the Kaggle path, ``--to-uint8 257``), a
#: sample whose 16-bit planes hold no value above this, and some value above 0, is 8-bit data
#: saved in a 16-bit container; it is refused (``8bit_in_16bit``), not guessed at.
EIGHT_BIT_TOP = 255


def refuse_8bit_in_16bit(planes: Sequence[np.ndarray], path: Path, fix: str) -> None:
    """A :class:`ReadError` ``8bit_in_16bit`` when every plane of a sample is ``uint16`` and none
    holds a value above :data:`EIGHT_BIT_TOP` (an all-zero sample excepted): ``round(x / 257)`` would
    map it to 0 and 1, a black image. Checked over the whole sample, not per channel, so that a dim
    channel of a true 16-bit sample (a weak stain) is kept. ``fix``: what the user can do."""
    if not planes or any(p.dtype != np.uint16 for p in planes):
        return
    top = max(int(p.max(initial=0)) for p in planes)
    if 0 < top <= EIGHT_BIT_TOP:
        raise ReadError("8bit_in_16bit", path, f"16-bit pixels whose values are all <= {EIGHT_BIT_TOP} (the "
                        f"sample's maximum is {top}): 8-bit data saved as 16-bit, which round(x / 257) would "
                        f"make black; {fix}")


def read_raw_channel(path: Path, color: str) -> np.ndarray:
    """Decode one channel file to ``(H, W)`` ``uint8`` or ``uint16`` as stored (an RGB-coloured
    file: the channel's own colour plane); other pixel types refused by name."""
    require_regular(path)
    limit = max(ALLOWED_SIZES)
    try:
        # The header's size is checked before decoding: a damaged header must not make us
        # allocate (or decode) a giant image.
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                shape = tif.series[0].shape
                if len(shape) < 2 or max(shape) > limit:
                    raise ReadError("wrong_size", path, f"TIFF of shape {shape}; expected a square up to {limit}")
                a = np.asarray(tif.asarray())
        else:
            with Image.open(path) as im:
                if max(im.size) > limit:
                    raise ReadError("wrong_size", path, f"image of size {im.size}; expected a square up to {limit}")
                im.load()
                a = np.asarray(im)
    except ReadError:
        raise
    except Exception as exc:
        kind = "truncated" if "truncat" in str(exc).lower() or isinstance(exc, EOFError) else "unreadable"
        raise ReadError(kind, path, f"cannot decode ({type(exc).__name__}: {exc})") from None
    if a.dtype not in (np.uint8, np.uint16):
        a = _check_wide(a, path)
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        planes = {"red": a[..., 0], "green": a[..., 1], "blue": a[..., 2]}
        a = planes.get(color, ((a[..., 0].astype(np.uint16) + a[..., 1]) // 2).astype(a.dtype))
    if a.ndim != 2:
        raise ReadError("wrong_dtype", path, f"expected a single-channel image, got shape {a.shape}")
    return a


def _check_wide(a: np.ndarray, path: Path) -> np.ndarray:
    """Pillow's 32-bit ``I`` decoding of a 16-bit PNG (values within 0-65535) as uint16; any other
    type refused by name (signed TIFFs used to wrap to black)."""
    from micro_bench_hpa.formats import check_dtype

    if path.suffix.lower() not in (".tif", ".tiff") and a.dtype == np.int32:
        if a.size and (int(a.min()) < 0 or int(a.max()) > 65535):
            raise ReadError("wrong_dtype", path, f"values {int(a.min())}..{int(a.max())} outside the 16-bit range 0-65535")
        return a.astype(np.uint16)
    check_dtype(a.dtype, path)
    return a


#: How a resolution is made from the full-size channel (the store's ``resize`` attribute).
#: ``box``: the mean of each block of source pixels (area averaging, fastai 0.7's
#: ``cv2.INTER_AREA``), what ``data convert`` writes (store format version 3); ``bilinear``:
#: PIL's antialiased bilinear filter, what format versions 1 and 2 hold.
RESIZE_METHODS: tuple[str, ...] = ("box", "bilinear")


def resize(a: np.ndarray, r: int, method: str = "box") -> np.ndarray:
    """``(H, H) uint8`` -> ``(r, r) uint8`` by ``method`` (see :data:`RESIZE_METHODS`).

    ``box`` with an integer factor ``f = H / r`` (HPA's 512 -> 256, 64; 2048 -> 512; 3072 -> 512):
    each pixel is the mean of an ``f x f`` block, rounded half up, exactly. It equals OpenCV's
    ``INTER_AREA`` except where the mean ends in exactly .5 (OpenCV rounds some of those to
    even). Powers of two use PIL's ``Image.reduce`` (15x faster than numpy; its fixed-point
    multiplier ``2**24 / f**2`` is exact only then), other factors a numpy block sum. Other sizes:
    PIL's ``BOX`` resampling (area weights, PIL's rounding). ``bilinear``: PIL's antialiased
    bilinear (triangle filter widened by the factor), what format versions 1 and 2 hold.
    """
    if a.shape == (r, r):
        return a
    side = a.shape[0]
    if method == "box" and a.shape[0] == a.shape[1] and side % r == 0:
        f = side // r
        if f & (f - 1) == 0:
            return np.asarray(Image.fromarray(a).reduce(f))
        total = a.reshape(r, f, r, f).sum(axis=3, dtype=np.uint32).sum(axis=1)
        return ((2 * total + f * f) // (2 * f * f)).astype(np.uint8)
    image = Image.fromarray(a)
    if method == "box":
        return np.asarray(image.resize((r, r), Image.Resampling.BOX))
    if method == "bilinear":
        return np.asarray(image.resize((r, r), Image.Resampling.BILINEAR))
    raise ValueError(f"unknown resize method {method!r}; expected one of {', '.join(RESIZE_METHODS)}")


def resize_channels(channels: Sequence[np.ndarray], sides: Sequence[int], method: str = "box",
                    into: Mapping[int, np.ndarray] | None = None) -> dict[int, np.ndarray]:
    """:func:`resize` of each channel to each side, as ``{R: (C, R, R) uint8}``.

    ``into`` (optional): ``{R: (C, R, R) uint8}`` arrays to write into (e.g. the sample's row of
    the block being converted), returned as the result. ``bilinear`` resizes four channels as the
    bands of one ``CMYK`` image: PIL filters each band of a multi-band image with the same
    fixed-point coefficients and rounding as a single ``L`` band (no premultiplication, unlike
    ``RGBA``), so the pixels equal four separate resizes (tested), in about half the time.
    ``box`` reduces each channel on its own (as fast, and no band interleaving to undo).
    """
    side = channels[0].shape[0]
    out = {int(r): into[int(r)] if into is not None else np.empty((len(channels), int(r), int(r)), np.uint8)
           for r in sides}
    if method == "bilinear" and len(channels) == 4 and any(r != side for r in out):
        image = Image.merge("CMYK", [Image.fromarray(c) for c in channels])
        for r, dst in out.items():
            dst[...] = np.stack(channels) if r == side else np.asarray(
                image.resize((r, r), Image.Resampling.BILINEAR)).transpose(2, 0, 1)
        return out
    for c, channel in enumerate(channels):
        for r, dst in out.items():
            dst[c] = resize(channel, r, method)
    return out


def load_sample(paths: Mapping[str, Path], resolutions: Sequence[int], method: str = "box",
                into: Mapping[int, np.ndarray] | None = None) -> dict[int, np.ndarray]:
    """Decode four channels and resize each to every resolution.

    Args:
        paths: ``{color: file}`` for red, green, blue, yellow.
        resolutions: output sides.
        method: the resize (:data:`RESIZE_METHODS`; the store's ``resize`` attribute).
        into: optional ``{R: (4, R, R) uint8}`` arrays to write the sample into.

    Returns:
        ``{R: (4, R, R) uint8}`` in channel order red, green, blue, yellow. Raises
        :class:`ReadError` (``missing_channel``, ``unreadable``, ``truncated``, ``wrong_size``,
        ...); ``into`` may then hold part of the sample.
    """
    for color in HPA_CHANNELS:
        if color not in paths:
            raise ReadError("missing_channel", Path(f"<{color}>"), f"no {color} channel file")
    channels = read_channels([(paths[color], color) for color in HPA_CHANNELS])
    shapes = {c.shape for c in channels}
    if len(shapes) != 1 or (shape := shapes.pop())[0] != shape[1] or shape[0] not in ALLOWED_SIZES:
        raise ReadError("wrong_size", paths["red"], f"channel shapes {sorted(c.shape for c in channels)}; expected equal squares of {ALLOWED_SIZES}")
    return resize_channels(channels, resolutions, method, into)
