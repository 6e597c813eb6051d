"""Tests of quanta.convert(): the ONNX -> .quanta converter from Python."""

import os

import numpy as np
import pytest

import quanta


def top1(session, x):
    """Argmax of every sample of x, run one at a time (the model's batch is 1)."""
    name, out = session.inputs[0].name, session.outputs[0].name
    return np.array([session.run({name: x[i:i + 1]})[out].argmax() for i in range(len(x))])


def logits(session, x):
    name, out = session.inputs[0].name, session.outputs[0].name
    return np.concatenate([session.run({name: x[i:i + 1]})[out] for i in range(len(x))])


def sqnr_db(ref, got):
    return 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((ref - got).astype(np.float64) ** 2))


# ------------------------------------------------------------------ a minimal ONNX writer
# (protobuf wire format by hand, so that the error tests need no onnx package)


def _varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num, value):
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    if isinstance(value, str):
        value = value.encode()
    return _varint(num << 3 | 2) + _varint(len(value)) + value


def _value_info(name, shape):
    dims = b"".join(_field(1, _field(1, d)) for d in shape)  # Dimension.dim_value
    tensor_type = _field(1, 1) + _field(2, dims)  # elem_type FLOAT, shape
    return _field(1, name) + _field(2, _field(1, tensor_type))


def onnx_single_op(op_type, node_name, shape=(1, 3, 8, 8), opset=13):
    """An ONNX model of one node `op_type` from x to y."""
    node = _field(1, "x") + _field(2, "y") + _field(3, node_name) + _field(4, op_type)
    graph = (_field(1, node) + _field(2, "g") + _field(11, _value_info("x", shape)) +
             _field(12, _value_info("y", shape)))
    return _field(1, 7) + _field(7, graph) + _field(8, _field(1, "") + _field(2, opset))


def test_onnx_writer_makes_a_convertible_model(tmp_path):
    path = tmp_path / "relu.onnx"
    path.write_bytes(onnx_single_op("Relu", "relu1"))
    summary = quanta.convert(path, tmp_path / "relu.quanta", precision="fp32")
    assert summary["runtime_nodes"] == 1
    s = quanta.Session(tmp_path / "relu.quanta")
    x = np.random.default_rng(0).normal(size=(1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(s.run({"x": x})["y"], np.maximum(x, 0))


def test_import_warnings_are_issued(tmp_path):
    path = tmp_path / "relu19.onnx"
    path.write_bytes(onnx_single_op("Relu", "relu1", opset=19))  # newer than the 17 supported
    with pytest.warns(quanta.ConversionWarning, match="opset 19") as record:
        summary = quanta.convert(path, None, precision="fp32")
    assert summary["warnings"] and [str(w.message) for w in record] == summary["warnings"]


# ------------------------------------------------------------------ conversions


def test_int8_conversion_accuracy(fashion, fashion_int8):
    path, summary = fashion_int8
    assert path.exists() and summary["output"] == str(path)
    assert summary["output_bytes"] == path.stat().st_size
    assert summary["onnx_bytes"] == os.path.getsize(fashion["onnx"])
    assert summary["precision"] == "int8"
    assert summary["calibration"] == {"method": "mse", "samples": 256}
    assert summary["opset"] > 0 and summary["onnx_nodes"] > summary["runtime_nodes"] > 0
    assert any("BatchNormalization" in r for r in summary["rewrites"])
    assert summary["inputs"] == [{"name": "input", "shape": (1, 1, 28, 28)}]
    assert len(summary["nodes"]) > 0 and all("precision" in n for n in summary["nodes"])
    assert "data" not in summary

    model = quanta.Model(path)
    assert model.file_size == summary["output_bytes"]
    assert model.inputs[0].shape == (1, 1, 28, 28) and model.inputs[0].dtype == np.float32
    s = quanta.Session(model)
    pred = top1(s, fashion["x"])
    accuracy = float(np.mean(pred == fashion["y"]))
    assert accuracy > 0.85, accuracy
    # Against the float ONNX model's logits: the same decisions almost always.
    ref = fashion["ref_logits"]
    assert np.mean(pred == ref.argmax(axis=1)) > 0.95
    assert sqnr_db(ref, logits(s, fashion["x"])) > 20


def test_fp32_conversion_matches_onnx_logits(fashion, tmp_path):
    out = tmp_path / "fp32.quanta"
    summary = quanta.convert(fashion["onnx"], out, precision="fp32")
    assert summary["precision"] == "fp32" and "calibration" not in summary
    got = logits(quanta.Session(out), fashion["x"][:200])
    np.testing.assert_allclose(got, fashion["ref_logits"][:200], rtol=1e-4, atol=1e-3)


def test_array_calibration_same_bytes_as_npy(fashion, fashion_int8):
    path, _ = fashion_int8
    want = path.read_bytes()
    calib = np.load(fashion["calib"])
    assert quanta.convert(fashion["onnx"], None, calib=calib)["data"] == want
    assert quanta.convert(fashion["onnx"], None, calib={"input": calib})["data"] == want
    assert quanta.convert(fashion["onnx"], None, calib=[fashion["calib"]])["data"] == want
    assert quanta.convert(fashion["onnx"], None, calib={"input": fashion["calib"]})["data"] == want
    # Any numeric dtype and layout is converted to float32 first.
    assert quanta.convert(fashion["onnx"], None, calib=np.asfortranarray(calib.astype(np.float64)))["data"] == want


def test_out_path_none_returns_a_loadable_model(fashion):
    summary = quanta.convert(fashion["onnx"], None, calib=np.load(fashion["calib"])[:16], method="minmax")
    assert summary["output"] is None and summary["calibration"]["samples"] == 16
    data = summary["data"]
    assert isinstance(data, bytes) and len(data) == summary["output_bytes"]
    s = quanta.Session(quanta.Model.from_bytes(data))
    assert np.mean(top1(s, fashion["x"][:200]) == fashion["y"][:200]) > 0.8


def test_calibration_options(fashion):
    calib = np.load(fashion["calib"])
    base = quanta.convert(fashion["onnx"], None, calib=calib, calib_limit=64)
    assert base["calibration"] == {"method": "mse", "samples": 64}
    seen = {base["data"]}
    for options, method in [({"method": "minmax"}, "minmax"),
                            ({"method": "percentile", "percentile": 99.9}, "percentile"),
                            ({"bins": 256}, "mse"),
                            ({"per_tensor": True}, "mse")]:
        r = quanta.convert(fashion["onnx"], None, calib=calib, calib_limit=64, **options)
        assert r["calibration"] == {"method": method, "samples": 64}, options
        assert r["data"] not in seen, options  # every option changes the model
        seen.add(r["data"])
        quanta.Model.from_bytes(r["data"])
    per_tensor = quanta.convert(fashion["onnx"], None, calib=calib, calib_limit=64, per_tensor=True)
    assert not any("per-channel" in n["weights"] for n in per_tensor["nodes"])
    assert any("per-channel" in n["weights"] for n in base["nodes"])


def test_exclude_keeps_a_node_in_float(fashion):
    r = quanta.convert(fashion["onnx"], None, calib=np.load(fashion["calib"])[:32], exclude="/conv3/Conv")
    rows = {n["name"]: n for n in r["nodes"]}
    assert rows["/conv3/Conv"]["precision"] == "float (excluded)"
    assert rows["/conv1/Conv"]["precision"] == "int8"
    s = quanta.Session(quanta.Model.from_bytes(r["data"]))
    assert np.mean(top1(s, fashion["x"][:200]) == fashion["y"][:200]) > 0.8


def test_input_shapes_forms(fashion):
    calib = np.load(fashion["calib"])[:8]
    a = quanta.convert(fashion["onnx"], None, calib=calib, input_shapes={"input": (1, 1, 28, 28)})
    b = quanta.convert(fashion["onnx"], None, calib=calib, input_shapes=["input=1,1,28,28"])
    c = quanta.convert(fashion["onnx"], None, calib=calib)
    assert a["data"] == b["data"] == c["data"]


def test_progress_callback(fashion, tmp_path):
    calls = []
    quanta.convert(fashion["onnx"], None, calib=np.load(fashion["calib"])[:10], progress=calls.append)
    assert calls, "no progress reported"
    assert {c["passes"] for c in calls} == {2}  # mse: ranges, then histograms
    last = [c for c in calls if c["pass"] == 2][-1]
    assert last["done"] == last["total"] == 10

    class Stop(Exception):
        pass

    def stop(p):
        if p["done"] == 3:
            raise Stop("stop here")

    out = tmp_path / "stopped.quanta"
    with pytest.raises(Stop, match="stop here"):
        quanta.convert(fashion["onnx"], out, calib=fashion["calib"], progress=stop)
    assert not out.exists()  # the file the call created is removed again


# ------------------------------------------------------------------ errors


def test_missing_onnx(tmp_path):
    missing = tmp_path / "missing.onnx"
    with pytest.raises(quanta.NotFound, match="missing.onnx") as e:
        quanta.convert(missing, tmp_path / "out.quanta", precision="fp32")
    assert isinstance(e.value, FileNotFoundError)
    assert not (tmp_path / "out.quanta").exists()


def test_not_an_onnx_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(quanta.InvalidModel, match="not a valid ONNX model"):
        quanta.convert(bad, None, precision="fp32")


def test_unsupported_onnx_op(tmp_path):
    path = tmp_path / "lrn.onnx"
    path.write_bytes(onnx_single_op("LRN", "norm1"))
    with pytest.raises(quanta.Unsupported, match=r"node 'norm1' \(LRN\): op type 'LRN' is not supported") as e:
        quanta.convert(path, None, precision="fp32")
    assert e.value.code == "unsupported"
    assert "Supported ops: Conv" in str(e.value)


@pytest.mark.parametrize("options, message", [
    ({"precision": "int4"}, "precision 'int4': expected one of 'int8', 'fp32'"),
    ({"method": "best"}, "method 'best'"),
    ({"layout": "chw"}, "layout 'chw'"),
    ({"percentile": 99.0}, "percentile is only used by method='percentile'"),
    ({"method": "percentile", "percentile": 20.0}, r"percentile = 20.0 is outside \[50, 100\]"),
    ({"method": "minmax", "bins": 512}, "bins is only used by method='percentile' and 'mse'"),
    ({"bins": 8}, r"bins = 8 is outside \[64, 1048576\]"),
    ({"calib_limit": -1}, r"calib_limit = -1 is outside"),
    ({"mean": 0.5}, "mean is only for calib_dir images"),
    ({"calib": None, "calib_dir": "imgs", "no_crop": True, "resize": 256}, "resize is not used with no_crop"),
    ({"calib": None, "calib_dir": "imgs", "std": "1,0,1"}, "std values must not be 0"),
    ({"calib_dir": "imgs"}, "calib and calib_dir exclude each other"),
    ({"per_tensor": "yes"}, "per_tensor must be True or False"),
    ({"input_shapes": ["input"]}, "expected NAME=d0,d1"),
    ({"input_shapes": {"input": (1, 0, 28, 28)}}, "dimensions must be positive integers"),
    ({"max_arena_mb": -5}, "max_arena_mb = -5 is outside"),
    ({"exclude": ["no_such_node"]}, "'no_such_node': no node of the model has this name"),
])
def test_bad_convert_options(fashion, tmp_path, options, message):
    out = tmp_path / "out.quanta"
    options = dict(options)
    calib = options.pop("calib", fashion["calib"])
    with pytest.raises(quanta.InvalidArgument, match=message) as e:
        quanta.convert(fashion["onnx"], out, calib=calib, **options)
    assert isinstance(e.value, ValueError)
    assert not out.exists()


def test_fp32_refuses_int8_options(fashion):
    with pytest.raises(quanta.InvalidArgument, match="calib is only for precision='int8'"):
        quanta.convert(fashion["onnx"], None, calib=fashion["calib"], precision="fp32")
    with pytest.raises(quanta.InvalidArgument, match="method, per_tensor are only for precision='int8'"):
        quanta.convert(fashion["onnx"], None, precision="fp32", method="minmax", per_tensor=True)


def test_int8_needs_calibration(fashion):
    with pytest.raises(quanta.InvalidArgument, match="int8 conversion needs calibration data"):
        quanta.convert(fashion["onnx"], None)


def test_bad_calibration_data(fashion, tmp_path):
    with pytest.raises(quanta.InvalidArgument,
                       match=r"calibration array of shape \(5, 28, 28\) does not match input 'input'"):
        quanta.convert(fashion["onnx"], None, calib=np.zeros((5, 28, 28), np.float32))
    with pytest.raises(quanta.InvalidArgument, match="calibration array 'image': not a model input"):
        quanta.convert(fashion["onnx"], None, calib={"image": np.zeros((5, 1, 28, 28), np.float32)})
    bad = np.load(fashion["calib"])[:8].copy()
    bad[5, 0, 2, 3] = np.nan
    out = tmp_path / "nan.quanta"
    with pytest.raises(quanta.InvalidArgument, match=r"sample 5 has a non-finite value \(nan\) at element 59"):
        quanta.convert(fashion["onnx"], out, calib=bad)
    assert not out.exists()
    with pytest.raises(quanta.NotFound, match="nothere.npy"):
        quanta.convert(fashion["onnx"], None, calib=tmp_path / "nothere.npy")


def test_unwritable_output(fashion, tmp_path):
    out = tmp_path / "no_such_dir" / "m.quanta"
    with pytest.raises(quanta.IoError, match="cannot write the output file.*does not exist") as e:
        quanta.convert(fashion["onnx"], out, precision="fp32")
    assert isinstance(e.value, OSError)


def test_failed_conversion_keeps_an_existing_file(fashion, tmp_path):
    out = tmp_path / "existing.quanta"
    out.write_bytes(b"keep me")
    bad = np.full((2, 1, 28, 28), np.inf, np.float32)
    with pytest.raises(quanta.InvalidArgument):
        quanta.convert(fashion["onnx"], out, calib=bad)
    assert out.read_bytes() == b"keep me"
    quanta.convert(fashion["onnx"], out, precision="fp32")  # overwritten on success
    quanta.Model(out)


def write_bmp(path, gray):
    """A 24-bit BMP of a 2-D uint8 array (rows bottom-up, BGR, padded to 4 bytes)."""
    h, w = gray.shape
    row = w * 3 + (-(w * 3) % 4)
    pixels = bytearray()
    for y in range(h - 1, -1, -1):
        line = np.repeat(gray[y], 3).tobytes()
        pixels += line + b"\0" * (row - len(line))
    header = b"BM" + (54 + len(pixels)).to_bytes(4, "little") + b"\0\0\0\0" + (54).to_bytes(4, "little")
    info = ((40).to_bytes(4, "little") + w.to_bytes(4, "little") + h.to_bytes(4, "little") +
            (1).to_bytes(2, "little") + (24).to_bytes(2, "little") + bytes(4) +
            len(pixels).to_bytes(4, "little") + bytes(16))
    path.write_bytes(header + info + bytes(pixels))


def test_image_directory_calibration(fashion, tmp_path):
    # The eval images back to pixels: the model's input is (p / 255 - 0.2860) / 0.3530.
    mean, std = 0.2860, 0.3530
    images = tmp_path / "images"
    images.mkdir()
    pixels = np.clip(np.rint((fashion["x"][:24, 0] * std + mean) * 255), 0, 255).astype(np.uint8)
    for i, p in enumerate(pixels):
        write_bmp(images / ("%03d.bmp" % i), p)
    (images / "notes.txt").write_text("not an image: skipped")
    out = tmp_path / "img.quanta"
    r = quanta.convert(fashion["onnx"], out, calib_dir=images, mean=mean, std=[std])
    assert r["calibration"]["samples"] == 24
    s = quanta.Session(out)
    assert np.mean(top1(s, fashion["x"][:300]) == fashion["y"][:300]) > 0.85
    # The same preprocessing done by numpy (value = (pixel * scale - mean) / std,
    # in float32) gives the same model from an array.
    x = ((pixels.astype(np.float32) * np.float32(1 / 255) - np.float32(mean)) / np.float32(std))[:, None]
    assert quanta.convert(fashion["onnx"], None, calib=x)["data"] == out.read_bytes()
    other = quanta.convert(fashion["onnx"], None, calib_dir=images)  # no normalization: other ranges
    assert other["data"] != out.read_bytes()


# ------------------------------------------------------------------ the same bytes as the CLI
# convert() keeps its own table of the CLI's defaults (quanta/__init__.py):
# these cases catch a default or an option mapping that drifts from
# `quanta convert`. They need the CLI, which ctest names in QUANTA_BIN; a
# pip-installed package has no CLI, and the cases say so when skipped.
CLI_CASES = [
    ({}, []),
    ({"method": "minmax"}, ["--method", "minmax"]),
    ({"method": "percentile", "percentile": 99.9, "bins": 512},
     ["--method", "percentile", "--percentile", "99.9", "--bins", "512"]),
    ({"per_tensor": True, "calib_limit": 64}, ["--per-tensor", "--calib-limit", "64"]),
    ({"precision": "fp32", "calib": None}, ["--precision", "fp32"]),
]


@pytest.mark.parametrize("options, args", CLI_CASES)
def test_same_bytes_as_cli(fashion, tmp_path, options, args):
    import subprocess

    cli = os.environ.get("QUANTA_BIN")
    if not cli:
        pytest.skip("QUANTA_BIN (the quanta CLI) is not set: ctest sets it; a pip install has no CLI")
    kwargs = {"calib": fashion["calib"], **options}
    calib_args = [] if kwargs["calib"] is None else ["--calib", str(fashion["calib"])]
    cli_out = tmp_path / "cli.quanta"
    subprocess.run([cli, "convert", str(fashion["onnx"]), "-o", str(cli_out), "-q", *calib_args, *args],
                   check=True, capture_output=True)
    py = quanta.convert(fashion["onnx"], None, **kwargs)["data"]
    assert py == cli_out.read_bytes()
