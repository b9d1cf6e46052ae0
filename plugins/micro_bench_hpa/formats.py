"""Pixel sources of ``data convert`` and ``predict``: one file per channel (PNG, TIFF) or one
multi-channel file per sample (TIFF / OME-TIFF through tifffile, OME-Zarr through ome-zarr), with
one set of pixel-type rules. An OME-Zarr image's metadata is read and validated by ome-zarr's
reader for the first image of each kind; the others of that kind are read with zarr directly
(:func:`_zarr_open`).

Pixel types (issue 28; docs/data.md "Pixel types"):

* ``uint8`` and ``uint16`` are read as they are (a 16-bit PNG that Pillow decodes as 32-bit
  ``I`` is taken as 16-bit when its values lie in 0-65535).
* A TIFF that declares a smaller range than its type's (``BitsPerSample`` below its width, or a
  ``MaxSampleValue`` tag: a 12-bit camera in ``uint16``) must hold no value above it.
* Refused by name: signed integers, floats, ``uint32``/``uint64``, 1-bit, palette images, and in a
  one-file-per-channel layout any file with colour planes (RGB, RGBA, grey + alpha).

Every problem is a :class:`~micro_bench_hpa.readers.ReadError` naming the file.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_hpa.errors import ReadError, require_regular

__all__ = [
    "IMAGE_EXTENSIONS",
    "Header",
    "check_dtype",
    "inspect_file",
    "is_multichannel",
    "read_file",
]

#: Extensions a pattern without one is completed with (in this order).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".tif", ".tiff", ".ome.tif", ".ome.tiff", ".ome.zarr", ".zarr")
_PIL_MODES = {"L": "uint8", "I;16": "uint16", "I;16L": "uint16", "I;16B": "uint16", "I": "int32"}
_PIL_REFUSED = {
    "1": "1-bit (bilevel) pixels",
    "P": "a palette image",
    "F": "32-bit float pixels",
    "I;16S": "signed 16-bit pixels",
    "RGB": "RGB colour planes",
    "RGBA": "RGBA colour planes",
    "LA": "grey + alpha planes",
    "CMYK": "CMYK colour planes",
}
_LIMIT = 1 << 15  # largest side read (a damaged header must not allocate a giant image)


def check_dtype(dtype: Any, path: Path) -> str:
    """``"uint8"`` or ``"uint16"``, or a :class:`ReadError` naming the refused pixel type."""
    dt = np.dtype(dtype)
    if dt in (np.uint8, np.uint16):
        return str(dt)
    if dt == np.bool_:
        why = "1-bit (bilevel) pixels"
    elif dt.kind == "i":
        why = f"signed {dt.itemsize * 8}-bit integer pixels ({dt})"
    elif dt.kind in "fc":
        why = f"floating-point pixels ({dt})"
    elif dt.kind == "u":
        why = f"unsigned {dt.itemsize * 8}-bit pixels ({dt})"
    else:
        why = f"pixels of type {dt}"
    raise ReadError("wrong_dtype", path, f"{why}; expected unsigned 8- or 16-bit (uint8, uint16): "
                    "convert the file to 8 or 16 bits first")


def is_multichannel(path: Path) -> bool:
    """Whether ``path`` is a format that holds several channels (TIFF/OME-TIFF or a zarr folder)."""
    name = path.name.lower()
    return name.endswith((".zarr", ".tif", ".tiff"))


class Header:
    """What a file holds, read without decoding its pixels.

    Attributes:
        shape: ``(C, H, W)`` (C = 1 for a single-channel file); dtype: ``"uint8"`` or ``"uint16"``.
        channel_names: names from OME metadata, or ``None``.
    """

    def __init__(self, shape: tuple[int, int, int], dtype: str, channel_names: list[str] | None = None) -> None:
        self.shape, self.dtype, self.channel_names = shape, dtype, channel_names


def _pil_header(path: Path) -> Header:
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h, mode = im.width, im.height, im.mode
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for non-images
        raise ReadError("unreadable", path, f"not a readable image ({type(exc).__name__}: {exc})") from None
    if mode in _PIL_REFUSED:
        raise ReadError("wrong_dtype", path, f"{_PIL_REFUSED[mode]} (mode {mode}); expected one grey 8- or "
                        "16-bit channel per file")
    if mode not in _PIL_MODES:
        raise ReadError("wrong_dtype", path, f"pixel mode {mode!r}; expected 8-bit (L) or 16-bit (I;16) grey")
    return Header((1, h, w), "uint16" if mode == "I" else _PIL_MODES[mode])


def _ome_names(tif: Any) -> list[str] | None:
    import tifffile

    if not tif.is_ome or not tif.ome_metadata:
        return None
    try:
        image = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]
        pixels = (image[0] if isinstance(image, list) else image)["Pixels"]
        channels = pixels.get("Channel", [])
        channels = channels if isinstance(channels, list) else [channels]
        names = [str(c.get("Name", "")) for c in channels if isinstance(c, dict)]
    except (KeyError, TypeError, IndexError, ValueError, AttributeError):
        return None
    return names if names and all(names) else None


def _axes_to_cyx(shape: Sequence[int], axes: str, path: Path) -> tuple[tuple[int, ...], list[int]]:
    """``(transpose order, kept axes)`` taking an ``axes`` array to ``(C, Y, X)``; other axes must
    have length 1. A plain multi-page TIFF's unnamed page axis (tifffile's ``Q`` or ``I``) is the
    channel axis."""
    axes = axes.upper()
    if "C" not in axes:
        for unnamed in "QI":
            if unnamed in axes:
                axes = axes.replace(unnamed, "C", 1)
                break
    if "Y" not in axes or "X" not in axes:
        raise ReadError("wrong_size", path, f"axes {axes!r} of shape {tuple(shape)}; expected Y and X axes")
    for ax, n in zip(axes, shape, strict=True):
        if ax not in "CSYX" and n != 1:
            raise ReadError("wrong_size", path, f"axis {ax} has {n} planes (shape {tuple(shape)}, axes {axes}); "
                            "expected one plane per channel (no Z stack or time series)")
    if "C" in axes and "S" in axes and shape[axes.index("C")] > 1 and shape[axes.index("S")] > 1:
        raise ReadError("wrong_size", path, f"both C and S (samples) axes in {axes}; expected one channel axis")
    c = axes.index("C") if "C" in axes and shape[axes.index("C")] > 1 else (axes.index("S") if "S" in axes else -1)
    order = ([c] if c >= 0 else []) + [axes.index("Y"), axes.index("X")]
    return tuple(order), [i for i in range(len(axes)) if i not in order]


def _tiff_header(path: Path, opened: Any = None) -> tuple[Header, Any]:
    """The header of a TIFF (``opened``: its open ``TiffFile``, else the file is opened here)."""
    import contextlib

    import tifffile

    try:
        with contextlib.nullcontext(opened) if opened is not None else tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, axes, dtype = tuple(series.shape), series.axes, series.dtype
            page: Any = tif.pages[0] if tif.pages else None
            bits = int(page.bitspersample) if page is not None else 0
            top = page.tags.valueof(281) if page is not None else None  # MaxSampleValue
            top = int(top[0] if isinstance(top, tuple) else top) if top is not None else None
            names = _ome_names(tif)
    except ReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types for damaged files
        raise ReadError("unreadable", path, f"not a readable TIFF ({type(exc).__name__}: {exc})") from None
    check_dtype(dtype, path)
    order, _ = _axes_to_cyx(shape, axes, path)
    cyx = tuple(shape[i] for i in order)
    cyx = cyx if len(cyx) == 3 else (1, *cyx)
    if max(cyx[1:]) > _LIMIT:
        raise ReadError("wrong_size", path, f"image of {cyx[2]}x{cyx[1]} px; at most {_LIMIT} px a side")
    if names is not None and len(names) != cyx[0]:
        names = None
    limit = (1 << bits) - 1 if 0 < bits < np.dtype(dtype).itemsize * 8 else None
    if top is not None and top < np.iinfo(np.dtype(dtype)).max:
        limit = top if limit is None else min(limit, top)
    return Header((int(cyx[0]), int(cyx[1]), int(cyx[2])), str(np.dtype(dtype)), names), (axes, limit)


def _zarr_node(path: Path) -> Any:
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    try:
        location = parse_url(str(path))
        nodes = list(Reader(location)()) if location is not None else []
    except Exception as exc:  # noqa: BLE001 - ome-zarr and zarr raise many types
        raise ReadError("unreadable", path, f"not a readable OME-Zarr image ({type(exc).__name__}: {exc})") from None
    for node in nodes:
        if node.data:
            return node
    raise ReadError("unreadable", path, "no OME-Zarr (NGFF) image found (expected multiscales metadata)")


class _ZarrLayout:
    """What ome-zarr made of one image's metadata: the full-resolution level's path in the group,
    the axes' initials and the channel names; shared by every image with the same metadata."""

    def __init__(self, level: str, axes: str, names: list[str] | None, shape_ndim: int) -> None:
        self.level, self.axes, self.names, self.ndim = level, axes, names, shape_ndim


#: ``{metadata key: layout}``: ome-zarr's reader reads and validates the multiscales metadata of
#: the first image of each kind (:func:`_zarr_key`); the images after it whose metadata is the
#: same are read with zarr directly (building ome-zarr's reader, its dask graph and thread pool
#: for every image was most of an OME-Zarr conversion's time).
_ZARR_LAYOUTS: dict[str, _ZarrLayout] = {}
_ZARR_LOCK = threading.Lock()
_ZARR_VALIDATING = threading.Lock()


def _zarr_key(attrs: Any) -> tuple[str, str] | None:
    """``(key, level-0 path)`` of an image group's attributes: its NGFF version, multiscales and
    channel labels (not the display windows and colours, which vary per image and do not change
    how pixels are read); ``None`` when there is no multiscales list to key on."""
    import json

    ome = attrs.get("ome", attrs) if isinstance(attrs, dict) else {}
    if not isinstance(ome, dict):
        return None
    multiscales = ome.get("multiscales")
    try:
        level = str(multiscales[0]["datasets"][0]["path"])  # type: ignore[index]
    except (TypeError, KeyError, IndexError):
        return None
    omero = ome.get("omero", attrs.get("omero")) if isinstance(attrs, dict) else None
    channels = omero.get("channels") if isinstance(omero, dict) else None
    labels = [c.get("label") if isinstance(c, dict) else c for c in channels] if isinstance(channels, list) else None
    key = json.dumps([ome.get("version", attrs.get("version")), multiscales, labels], sort_keys=True, default=str)
    return key, level


def _zarr_open(path: Path) -> tuple[Any, _ZarrLayout]:
    """The full-resolution ``zarr.Array`` of an OME-Zarr image and its :class:`_ZarrLayout`."""
    import zarr

    group: Any = None
    keyed: tuple[str, str] | None = None
    try:
        group = zarr.open_group(str(path), mode="r")
        keyed = _zarr_key(group.attrs.asdict())
        with _ZARR_LOCK:
            known = _ZARR_LAYOUTS.get(keyed[0]) if keyed else None
        if known is not None:
            arr = group[known.level]
            if isinstance(arr, zarr.Array) and arr.ndim == known.ndim:
                return arr, known
            keyed = None  # not the array its metadata promises: ome-zarr's reader says what is wrong
    except Exception:  # noqa: BLE001 - zarr raises many types: ome-zarr's reader says what is wrong
        group, keyed = None, None
    if keyed is None:
        return _zarr_validate(path, group, keyed)
    with _ZARR_VALIDATING:  # the header threads of one kind wait for its first validation
        with _ZARR_LOCK:
            known = _ZARR_LAYOUTS.get(keyed[0])
        if known is None:
            return _zarr_validate(path, group, keyed)
    return _zarr_open(path)  # validated meanwhile by another thread: the fast path above


def _zarr_validate(path: Path, group: Any, keyed: tuple[str, str] | None) -> tuple[Any, _ZarrLayout]:
    """Read ``path`` with ome-zarr's reader (which validates its metadata), remember its layout
    under ``keyed`` when zarr reads the same level-0 array, and return that array."""
    import zarr

    node = _zarr_node(path)  # new metadata: ome-zarr reads and validates it
    level = node.data[0]
    axes = "".join(str(a["name"] if isinstance(a, dict) else a)[0] for a in node.metadata.get("axes", []))
    if len(axes) != level.ndim:
        axes = "CYX"[-level.ndim:] if level.ndim <= 3 else "TCZYX"[-level.ndim:]
    names = node.metadata.get("channel_names")
    layout = _ZarrLayout(keyed[1] if keyed else "", axes, [str(n) for n in names] if names else None, level.ndim)
    try:
        arr = group[layout.level] if keyed and group is not None else None
    except Exception:  # noqa: BLE001 - a path ome-zarr resolved otherwise: read through it, uncached
        arr = None
    if not isinstance(arr, zarr.Array) or arr.shape != tuple(level.shape) or arr.dtype != level.dtype:
        return _DaskLevel(level), layout  # not what ome-zarr read: use its array, cache nothing
    if keyed:
        with _ZARR_LOCK:
            _ZARR_LAYOUTS[keyed[0]] = layout
    return arr, layout


class _DaskLevel:
    """ome-zarr's dask array of a level behind the ``zarr.Array`` calls used here."""

    def __init__(self, level: Any) -> None:
        self.level, self.shape, self.dtype, self.ndim = level, tuple(level.shape), level.dtype, level.ndim

    def __getitem__(self, _: Any) -> np.ndarray:
        return np.asarray(self.level.compute(scheduler="synchronous"))


def _zarr_header(path: Path, opened: tuple[Any, _ZarrLayout] | None = None) -> tuple[Header, str]:
    """The header of an OME-Zarr image (``opened``: :func:`_zarr_open`'s result, else opened here)."""
    arr, layout = _zarr_open(path) if opened is None else opened
    axes = layout.axes
    check_dtype(arr.dtype, path)
    order, _ = _axes_to_cyx(arr.shape, axes, path)
    cyx = tuple(int(arr.shape[i]) for i in order)
    cyx = cyx if len(cyx) == 3 else (1, *cyx)
    if max(cyx[1:]) > _LIMIT:
        raise ReadError("wrong_size", path, f"image of {cyx[2]}x{cyx[1]} px; at most {_LIMIT} px a side")
    names = layout.names
    names = names if names and len(names) == cyx[0] and all(names) else None
    return Header((cyx[0], cyx[1], cyx[2]), str(np.dtype(arr.dtype)), names), axes


def inspect_file(path: Path) -> Header:
    """The :class:`Header` of a PNG, TIFF/OME-TIFF or OME-Zarr file; refuses a pixel type by name."""
    if not str(path).lower().endswith(".zarr"):
        require_regular(path)
    if not path.exists():
        raise ReadError("missing_channel", path, "no such file")
    name = path.name.lower()
    if name.endswith(".zarr"):
        return _zarr_header(path)[0]
    if not path.is_file():
        raise ReadError("unreadable", path, "not a regular file")
    if name.endswith((".tif", ".tiff")):
        return _tiff_header(path)[0]
    return _pil_header(path)


def _check_range(a: np.ndarray, path: Path, limit: int | None) -> np.ndarray:
    if limit is not None and a.size:
        top = int(a.max())
        if top > limit:
            raise ReadError("wrong_dtype", path, f"value {top} above the declared maximum {limit} "
                            "(BitsPerSample / MaxSampleValue)")
    return a


def read_file(path: Path) -> np.ndarray:
    """Decode a file to ``(C, H, W)`` uint8 or uint16 pixels (C = 1 for a grey PNG/TIFF plane)
    by the module's rules."""
    if not path.exists():
        raise ReadError("missing_channel", path, "no such file")
    if not str(path).lower().endswith(".zarr"):  # an OME-Zarr is a folder
        require_regular(path)
    name = path.name.lower()
    try:
        if name.endswith(".zarr"):  # each image is opened once, for its header and its pixels
            opened = _zarr_open(path)
            header, axes = _zarr_header(path, opened)
            arr = np.asarray(opened[0][...])
            order, rest = _axes_to_cyx(arr.shape, axes, path)
            a = arr.transpose(*order, *rest).reshape(header.shape)
        elif name.endswith((".tif", ".tiff")):
            import tifffile

            if not path.is_file():
                raise ReadError("unreadable", path, "not a regular file")
            with tifffile.TiffFile(path) as tif:
                header, (axes, limit) = _tiff_header(path, tif)
                arr = tif.series[0].asarray()
            order, rest = _axes_to_cyx(arr.shape, axes, path)
            a = _check_range(np.ascontiguousarray(arr.transpose(*order, *rest).reshape(header.shape)), path, limit)
        else:
            from PIL import Image

            header = inspect_file(path)
            with Image.open(path) as im:
                im.load()
                arr = np.asarray(im)
            if arr.dtype not in (np.uint8, np.uint16):  # Pillow's 32-bit "I" of a 16-bit PNG
                if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 65535):
                    raise ReadError("wrong_dtype", path, f"values {int(arr.min())}..{int(arr.max())} outside "
                                    "the 16-bit range 0-65535")
                arr = arr.astype(np.uint16)
            a = arr.reshape(header.shape)
    except ReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - decoders raise many types for damaged files
        kind = "truncated" if "truncat" in str(exc).lower() or isinstance(exc, EOFError) else "unreadable"
        raise ReadError(kind, path, f"cannot decode ({type(exc).__name__}: {exc})") from None
    check_dtype(a.dtype, path)
    return np.ascontiguousarray(a)
