"""Quanta: an int8 inference runtime and ONNX -> int8 converter.

    import numpy as np, quanta

    summary = quanta.convert("net.onnx", "net_int8.quanta", calib="calib.npy")
    session = quanta.Session("net_int8.quanta", threads=1)
    logits = session.run({"input": x})["logits"]

Classes and functions:

- ``Model(path)`` / ``Model.from_bytes(data)``: a loaded ``.quanta`` model
  (``inputs``, ``outputs``: lists of ``TensorInfo``; ``nodes``, ``producer``,
  ``description``, ``file_size``).
- ``Session(model_or_path, threads=1, tier="auto", backend="auto",
  profile=False, max_arena_mb=None, max_prepared_mb=None)``: ``run(feeds)``
  copies in and out; ``input_array()`` / ``output_array()`` /
  ``run_in_place()`` work on the session's own memory with no copy.
- ``convert(onnx_path, out_path, calib=None, **options)``: the options and
  defaults of ``quanta convert``.
- ``Error`` and its subclasses, one per status code of the library.

See docs/python.md.
"""

import math as _math
import os as _os
import warnings as _warnings

import numpy as _np

from ._quanta import (  # noqa: F401  (re-exported)
    Error,
    InternalError,
    InvalidArgument,
    InvalidModel,
    IoError,
    Model,
    Node,
    NotFound,
    ResourceExhausted,
    Session,
    TensorInfo,
    Unsupported,
    __version__,
    format_version,
)
from . import _quanta

__all__ = [
    "ConversionWarning",
    "Error",
    "InternalError",
    "InvalidArgument",
    "InvalidModel",
    "IoError",
    "Model",
    "Node",
    "NotFound",
    "ResourceExhausted",
    "Session",
    "TensorInfo",
    "Unsupported",
    "__version__",
    "convert",
    "format_version",
]


class ConversionWarning(UserWarning):
    """A warning of the converter (an import rewrite, a quantization choice,
    non-finite values seen during calibration). convert() also returns them
    in its summary."""


# The defaults of `quanta convert` (tools/cli.hpp, ConvertArgs).
_DEFAULTS = {
    "precision": "int8",
    "calib": None,
    "calib_dir": None,
    "calib_limit": 0,
    "method": "mse",
    "percentile": 99.99,
    "bins": 2048,
    "per_tensor": False,
    "exclude": (),
    "input_shapes": None,
    "resize": 0,
    "no_crop": False,
    "mean": None,
    "std": None,
    "scale": 1.0 / 255.0,
    "bgr": False,
    "layout": "nchw",
    "max_arena_mb": 0,
    "max_prepared_mb": 0,
}
_IMAGE_OPTIONS = ("resize", "no_crop", "mean", "std", "scale", "bgr", "layout")
_INT8_OPTIONS = ("calib", "calib_dir", "calib_limit", "method", "percentile", "bins",
                 "per_tensor", "exclude", "max_arena_mb", "max_prepared_mb")
# The CLI's range checks (converter.hpp: kMinPercentile, kMaxPercentile,
# kMinBins, kMaxBins).
_PERCENTILE_RANGE = _quanta._percentile_range
_BINS_RANGE = _quanta._bins_range


def _invalid(message):
    return InvalidArgument(message)


def _given(options, names):
    """The options among `names` whose value differs from the default (the
    Python counterpart of "given on the command line")."""
    out = []
    for n in names:
        value, default = options[n], _DEFAULTS[n]
        if default is None:
            differs = value is not None
        elif isinstance(default, tuple):
            differs = value is not None and len(value) > 0
        else:
            differs = value != default
        if differs:
            out.append(n)
    return out


def _refuse(names, why):
    if names:
        raise _invalid("%s %s %s" % (", ".join(names), "is" if len(names) == 1 else "are", why))


def _choice(name, value, allowed):
    if value not in allowed:
        raise _invalid("%s %r: expected one of %s" % (name, value, ", ".join(repr(a) for a in allowed)))
    return value


def _int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, _np.integer)):
        raise _invalid("%s must be an integer, not %s" % (name, type(value).__name__))
    value = int(value)
    if not lo <= value <= hi:
        raise _invalid("%s = %d is outside [%d, %d]" % (name, value, lo, hi))
    return value


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, _np.integer, _np.floating)):
        raise _invalid("%s must be a number, not %s" % (name, type(value).__name__))
    value = float(value)
    if not _math.isfinite(value):
        raise _invalid("%s = %r is not finite" % (name, value))
    return value


def _bool(name, value):
    if not isinstance(value, (bool, _np.bool_)):
        raise _invalid("%s must be True or False, not %r" % (name, value))
    return bool(value)


def _floats(name, value):
    """mean / std: one number, a sequence, or the CLI's comma-separated text."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
        try:
            values = [float(item) for item in items]
        except ValueError:
            raise _invalid("%s %r: expected a comma-separated list of numbers" % (name, value)) from None
    elif isinstance(value, (int, float, _np.integer, _np.floating)) and not isinstance(value, bool):
        values = [float(value)]
    else:
        values = [_number(name, v) for v in value]
    if not values or not all(_math.isfinite(v) for v in values):
        raise _invalid("%s %r: expected one finite number or one per channel" % (name, value))
    return values


def _strings(name, value):
    if value is None:
        return []
    if isinstance(value, (str, bytes, _os.PathLike)):
        value = [value]
    out = []
    for v in value:
        if not isinstance(v, str):
            raise _invalid("%s must be a name or a list of names, not %r" % (name, v))
        out.append(v)
    return out


def _shapes(value):
    """input_shapes: {name: (d0, d1, ...)} or the CLI's ["NAME=d0,d1,..."]."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = [value]
    if isinstance(value, dict):
        items = list(value.items())
    else:
        items = []
        for spec in value:
            name, eq, dims = str(spec).rpartition("=")
            if not eq or not name:
                raise _invalid("input_shapes %r: expected NAME=d0,d1,... (for example "
                               "input=1,3,32,32) or a dict {name: shape}" % (spec,))
            try:
                items.append((name, [int(d) for d in dims.split(",")]))
            except ValueError:
                raise _invalid("input_shapes %r: dimensions must be positive integers" % (spec,)) from None
    out = {}
    for name, dims in items:
        if not isinstance(name, str):
            raise _invalid("input_shapes: input names must be str, not %r" % (name,))
        try:
            dims = [d for d in dims]
        except TypeError:
            raise _invalid("input_shapes[%r]: expected a sequence of dimensions" % name) from None
        if not dims or any(isinstance(d, bool) or not isinstance(d, (int, _np.integer)) or d < 1
                           for d in dims):
            raise _invalid("input_shapes[%r] = %r: dimensions must be positive integers" % (name, dims))
        out[name] = [int(d) for d in dims]
    return out


def _calibration(calib):
    """calib -> (list of .npy paths, list of (input name or "", float32 array)).

    A path or a list of paths ("NAME=path" binds a file to an input of a
    model with several inputs); a numpy array (a single-input model); or a
    dict {input name: array or path}."""
    if calib is None:
        return [], []
    if isinstance(calib, (str, bytes, _os.PathLike)):
        return [_os.fsdecode(calib)], []
    if isinstance(calib, _np.ndarray):
        return [], [("", _np.ascontiguousarray(calib, dtype=_np.float32))]
    if isinstance(calib, dict):
        values = list(calib.values())
        if values and all(isinstance(v, _np.ndarray) for v in values):
            return [], [(str(k), _np.ascontiguousarray(v, dtype=_np.float32)) for k, v in calib.items()]
        if all(isinstance(v, (str, bytes, _os.PathLike)) for v in values):
            return ["%s=%s" % (k, _os.fsdecode(v)) for k, v in calib.items()], []
        raise _invalid("calib: a dict must map every input name to an array, or every one to a path")
    try:
        items = list(calib)
    except TypeError:
        raise _invalid("calib must be a .npy path, a list of paths, a numpy array or a dict "
                       "{input name: array}, not %s" % type(calib).__name__) from None
    if not all(isinstance(v, (str, bytes, _os.PathLike)) for v in items):
        raise _invalid("calib: a list must hold .npy paths only (use a dict {input name: array} "
                       "for arrays of several inputs)")
    return [_os.fsdecode(v) for v in items], []


class _OutputFile:
    """The output file, opened before anything slow so that an unwritable
    path fails at once (as `quanta convert` does). A file this object
    created is removed again when the conversion fails."""

    def __init__(self, path):
        self.path = path
        self.created = False
        try:
            self.file = open(path, "xb")
            self.created = True
        except FileExistsError:
            try:
                self.file = open(path, "r+b")
            except OSError as e:
                self._fail(e)
        except OSError as e:
            self._fail(e)

    def _fail(self, e):
        why = e.strerror or str(e)
        parent = _os.path.dirname(self.path)
        if isinstance(e, FileNotFoundError) and parent and not _os.path.isdir(parent):
            why += " (the directory %s does not exist)" % parent
        raise IoError("%s: cannot write the output file: %s" % (self.path, why)) from None

    def commit(self, data):
        try:
            self.file.truncate(0)
            self.file.write(data)
            self.file.close()
        except OSError as e:
            raise IoError("%s: write error: %s" % (self.path, e.strerror or e)) from None
        self.created = False

    def abandon(self):
        self.file.close()
        if self.created:
            try:
                _os.unlink(self.path)
            except OSError:
                pass


def convert(onnx_path, out_path, calib=None, *, precision="int8", calib_dir=None, calib_limit=0,
            method="mse", percentile=99.99, bins=2048, per_tensor=False, exclude=(),
            input_shapes=None, resize=0, no_crop=False, mean=None, std=None, scale=1.0 / 255.0,
            bgr=False, layout="nchw", max_arena_mb=0, max_prepared_mb=0, progress=None):
    """Converts a float ONNX model to a .quanta file, as ``quanta convert`` does.

    Arguments (each is the CLI option of the same name, with its default):

    - ``onnx_path``: the float ONNX model.
    - ``out_path``: the .quanta file to write, or None to write nothing and
      return the model's bytes in the summary (``summary["data"]``).
    - ``calib`` (``--calib``): calibration samples for int8, batched on the
      first axis in the model's input layout: a .npy path, a list of paths
      (``"NAME=path.npy"`` for a model with several inputs), a numpy array
      (a single-input model) or a dict ``{input name: array}``. Arrays are
      read in memory; nothing is written to disk.
    - ``precision``: ``"int8"`` (calibrated, quantized) or ``"fp32"``.
    - ``calib_dir``: a directory of PNG/JPEG/BMP images instead of ``calib``,
      preprocessed by ``resize``, ``no_crop``, ``mean``, ``std``, ``scale``,
      ``bgr`` and ``layout`` (``"nchw"`` or ``"nhwc"``); ``mean`` and ``std``
      are a number, a sequence or the CLI's ``"0.485,0.456,0.406"``.
    - ``calib_limit``: use at most this many samples (0: all).
    - ``method``: ``"mse"``, ``"minmax"`` or ``"percentile"``;
      ``percentile`` (only with ``"percentile"``) and ``bins`` (not with
      ``"minmax"``).
    - ``per_tensor``: one weight scale per tensor instead of per channel.
    - ``exclude``: ONNX node names kept in float.
    - ``input_shapes``: ``{name: shape}`` or ``["NAME=d0,d1,..."]``, for
      dynamic dimensions other than the batch (which defaults to 1).
    - ``max_arena_mb``, ``max_prepared_mb``: memory limits of the sessions
      the converter runs (0: the runtime's default).
    - ``progress``: optional callable, called with a dict ``{pass, passes,
      what, done, total}`` after every calibration sample; an exception it
      raises (and Ctrl-C) stops the conversion and is raised here.

    As on the command line, an option that the others make meaningless is an
    error rather than ignored: int8 options with ``precision="fp32"``,
    ``percentile`` without ``method="percentile"``, ``bins`` with
    ``"minmax"``, image options without ``calib_dir``, ``resize`` with
    ``no_crop``. An option counts as given when its value differs from the
    default.

    Returns a summary dict (the keys of ``quanta convert --json``: model,
    output, precision, opset, producer, onnx_nodes, runtime_nodes, inputs,
    rewrites, warnings, onnx_bytes, output_bytes, seconds; for int8 also
    calibration {method, samples}, nodes (the per-node quantization table),
    quantize_warnings and calibration_warnings). The warnings are also issued
    as ``quanta.ConversionWarning``. Errors raise ``quanta.Error``
    subclasses with the converter's message; the GIL is released while the
    model converts.
    """
    options = dict(precision=precision, calib=calib, calib_dir=calib_dir, calib_limit=calib_limit,
                   method=method, percentile=percentile, bins=bins, per_tensor=per_tensor,
                   exclude=exclude, input_shapes=input_shapes, resize=resize, no_crop=no_crop,
                   mean=mean, std=std, scale=scale, bgr=bgr, layout=layout,
                   max_arena_mb=max_arena_mb, max_prepared_mb=max_prepared_mb)
    model = _os.fsdecode(_os.fspath(onnx_path))
    output = None if out_path is None else _os.fsdecode(_os.fspath(out_path))
    _choice("precision", precision, ("int8", "fp32"))
    _choice("method", method, ("minmax", "percentile", "mse"))
    _choice("layout", layout, ("nchw", "nhwc"))
    if progress is not None and not callable(progress):
        raise _invalid("progress must be a callable or None")

    # The usage rules of `quanta convert` (tools/cmd_convert.cpp).
    if precision == "fp32":
        _refuse(_given(options, _INT8_OPTIONS + _IMAGE_OPTIONS),
                "only for precision='int8': a float conversion is neither calibrated nor quantized")
    if method != "percentile":
        _refuse(_given(options, ("percentile",)),
                "only used by method='percentile' (the method is %s)" % method)
    if method == "minmax":
        _refuse(_given(options, ("bins",)),
                "only used by method='percentile' and 'mse' (minmax keeps the observed range and "
                "builds no histogram)")
    if calib is not None and calib_dir is not None:
        raise _invalid("calib and calib_dir exclude each other: give .npy samples or a directory "
                       "of images")
    if calib_dir is None:
        _refuse(_given(options, _IMAGE_OPTIONS),
                "only for calib_dir images (calib samples are used as they are)")
    if _bool("no_crop", no_crop):
        _refuse(_given(options, ("resize",)),
                "not used with no_crop (each image is resized straight to the input size)")
    if precision == "int8" and calib is None and calib_dir is None:
        raise _invalid(
            "int8 conversion needs calibration data: the uint8 activation ranges are chosen by "
            "running the float model on representative inputs. Give calib= (a .npy file or a "
            "numpy array of samples batched on the first axis) or calib_dir= (images), or use "
            "precision='fp32'")

    calib_files, calib_arrays = _calibration(calib)
    if calib is not None and not calib_files and not calib_arrays:
        raise _invalid("calib: no calibration data given (an empty list or dict)")
    stds = _floats("std", std)
    if any(s == 0 for s in stds):
        raise _invalid("std values must not be 0")
    args = dict(
        model=model,
        precision=precision,
        calib_files=calib_files,
        calib_arrays=calib_arrays or None,
        calib_dir="" if calib_dir is None else _os.fsdecode(_os.fspath(calib_dir)),
        calib_limit=_int("calib_limit", calib_limit, 0, 1 << 40),
        method=method,
        percentile=_number("percentile", percentile),
        bins=_int("bins", bins, *_BINS_RANGE),
        per_tensor=_bool("per_tensor", per_tensor),
        exclude=_strings("exclude", exclude),
        input_shapes=_shapes(input_shapes),
        resize=_int("resize", resize, 0, 1 << 16),
        no_crop=bool(no_crop),
        mean=_floats("mean", mean),
        std=stds,
        scale=_number("scale", scale),
        bgr=_bool("bgr", bgr),
        layout=layout,
        max_arena_mb=_int("max_arena_mb", max_arena_mb, 0, 1 << 40),
        max_prepared_mb=_int("max_prepared_mb", max_prepared_mb, 0, 1 << 40),
        progress=progress,
    )
    lo, hi = _PERCENTILE_RANGE
    if not lo <= args["percentile"] <= hi:
        raise _invalid("percentile = %r is outside [%g, %g]" % (percentile, lo, hi))

    out = _OutputFile(output) if output is not None else None
    try:
        summary = _quanta._convert(**args)
        data = summary.pop("data")
        if out is not None:
            out.commit(data)
    except BaseException:
        if out is not None:
            out.abandon()
        raise
    result = {"model": model, "output": output}
    result.update(summary)
    try:
        result["onnx_bytes"] = _os.path.getsize(model)
    except OSError:
        result["onnx_bytes"] = None
    if output is None:
        result["data"] = data
    for key in ("warnings", "quantize_warnings", "calibration_warnings"):
        for w in result.get(key, ()):
            _warnings.warn(w, ConversionWarning, stacklevel=2)
    return result
