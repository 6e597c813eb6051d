"""Fixtures of the Python tests (docs/python.md, "Tests").

The `quanta` package must be importable: installed (`pip install .`) or on
PYTHONPATH (the build's python/ directory). The models come from the
repository's models/ directory, found relative to this file.
"""

import pathlib
import shutil
import subprocess
import zlib

import numpy as np
import pytest

import quanta

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"


def model_path(name):
    path = MODELS / name
    if not path.exists():
        pytest.fail("%s is missing: it is committed to the repository" % path)
    return path


@pytest.fixture(scope="session")
def demo_int8():
    return model_path("demo_cnn_int8.quanta")


@pytest.fixture(scope="session")
def demo_fp32():
    return model_path("demo_cnn_fp32.quanta")


@pytest.fixture(scope="session")
def fashion():
    """The Fashion-MNIST model and its data: onnx path, calib x, eval x, eval y,
    the float model's reference logits on eval x."""
    return {
        "onnx": model_path("fashion_cnn_bn.onnx"),
        "calib": model_path("fashion_calib_x.npy"),
        "x": np.load(model_path("fashion_eval_x.npy")),
        "y": np.load(model_path("fashion_eval_y.npy")),
        "ref_logits": np.load(model_path("fashion_cnn_bn_ref_logits.npy")),
    }


@pytest.fixture(scope="session")
def fashion_int8(fashion, tmp_path_factory):
    """fashion_cnn_bn.onnx converted to int8 once for the session: (path, summary)."""
    out = tmp_path_factory.mktemp("fashion") / "fashion_int8.quanta"
    summary = quanta.convert(fashion["onnx"], out, calib=fashion["calib"])
    return out, summary


# A model with a uint8 interface, which the converter never writes (its models
# take and return float): input x (u8 [1, @H@, @W@, 2], scale 0.05, zero point
# 100) -> MaxPool
# 2x2 stride 2 -> output "pool" (u8, same quantization) -> Dequantize ->
# output "pool_f32" (f32). Written with flatc from this JSON (schema/quanta.fbs),
# padded to 64 bytes and sealed with the "QSUM" + CRC-32 trailer
# (docs/format.md).
U8_MODEL_JSON = """
{
  "producer": "quanta python tests",
  "description": "uint8 MaxPool 2x2, and its output dequantized",
  "tensors": [
    {"name": "x", "shape": [1, @H@, @W@, 2], "dtype": "U8",
     "quantization": {"scale": [0.05], "zero_point": [100]}},
    {"name": "pool", "shape": [1, @H2@, @W2@, 2], "dtype": "U8",
     "quantization": {"scale": [0.05], "zero_point": [100]}},
    {"name": "pool_f32", "shape": [1, @H2@, @W2@, 2]}
  ],
  "nodes": [
    {"op": "MAX_POOL", "inputs": [0], "outputs": [1], "options_type": "PoolOptions",
     "options": {"kernel_h": 2, "kernel_w": 2, "stride_h": 2, "stride_w": 2}, "name": "pool"},
    {"op": "DEQUANTIZE", "inputs": [1], "outputs": [2], "name": "dequantize"}
  ],
  "inputs": [0],
  "outputs": [1, 2],
  "buffers": [{"offset": 0, "size": 0}]
}
"""
U8_SCALE = np.float32(0.05)
U8_ZERO_POINT = 100


@pytest.fixture(scope="session")
def make_u8_model(tmp_path_factory):
    """make_u8_model(h=4, w=4) -> the bytes of the uint8 MaxPool model with an
    input of shape (1, h, w, 2)."""
    flatc = shutil.which("flatc")
    schema = ROOT / "schema" / "quanta.fbs"
    if flatc is None or not schema.exists():
        pytest.fail("flatc (the FlatBuffers compiler, a build dependency) is needed to write the "
                    "uint8 test model")

    def make(h=4, w=4):
        d = tmp_path_factory.mktemp("u8model")
        text = U8_MODEL_JSON
        for key, value in (("@H2@", h // 2), ("@W2@", w // 2), ("@H@", h), ("@W@", w)):
            text = text.replace(key, str(value))
        (d / "u8.json").write_text(text)
        subprocess.run([flatc, "-b", "-o", str(d), str(schema), str(d / "u8.json")], check=True)
        data = (d / "u8.quanta").read_bytes()
        data += b"\0" * (-len(data) % 64)
        return data + b"QSUM" + zlib.crc32(data).to_bytes(4, "little")

    return make


@pytest.fixture(scope="session")
def u8_model_bytes(make_u8_model):
    return make_u8_model()


def maxpool2x2(q):
    """The reference: 2x2 stride-2 max pooling of an NHWC array."""
    n, h, w, c = q.shape
    return q.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def dequantize(q, scale=U8_SCALE, zero_point=U8_ZERO_POINT):
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
