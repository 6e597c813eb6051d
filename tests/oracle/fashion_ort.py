#!/usr/bin/python3
"""ONNX Runtime's own int8 quantization of the bundled Fashion-MNIST models, for comparison.

    PYTHONPATH=build/pydeps /usr/bin/python3 tests/oracle/fashion_ort.py

Quantizes each models/fashion_*.onnx with onnxruntime.quantization.quantize_static
(QDQ format, per-channel int8 weights, uint8 activations, MinMax calibration on
models/fashion_calib_x.npy: the same 256 samples `quanta convert` uses) and
prints float and int8 top-1 on models/fashion_eval_x.npy / fashion_eval_y.npy,
with the top-1 agreement. Needs numpy and onnxruntime (scripts/install_onnxruntime.sh).
"""
import os
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MODELS = os.path.join(ROOT, "models")


class Reader(CalibrationDataReader):
    def __init__(self, name, x):
        self.name, self.x, self.i = name, x, 0

    def get_next(self):
        if self.i >= len(self.x):
            return None
        self.i += 1
        return {self.name: self.x[self.i - 1:self.i]}


def predict(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.array([sess.run(None, {name: x[i:i + 1]})[0].argmax() for i in range(len(x))])


def main():
    calib = np.load(os.path.join(MODELS, "fashion_calib_x.npy")).astype(np.float32)
    x = np.load(os.path.join(MODELS, "fashion_eval_x.npy")).astype(np.float32)
    y = np.load(os.path.join(MODELS, "fashion_eval_y.npy"))
    print(f"onnxruntime {ort.__version__}, {len(calib)} calibration and {len(x)} eval samples")
    print(f"{'model':16} {'float top-1':>11} {'ORT int8 top-1':>15} {'agreement':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for model in ("fashion_cnn", "fashion_cnn_bn", "fashion_mlp"):
            src = os.path.join(MODELS, model + ".onnx")
            dst = os.path.join(tmp, model + "_int8.onnx")
            name = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).get_inputs()[0].name
            quantize_static(src, dst, Reader(name, calib), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
            pf, pq = predict(src, x), predict(dst, x)
            print(f"{model:16} {100 * np.mean(pf == y):10.2f}% {100 * np.mean(pq == y):14.2f}% "
                  f"{100 * np.mean(pf == pq):9.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
