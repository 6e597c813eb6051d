#!/usr/bin/python3
"""Write ONNX Runtime's float outputs for the bundled Fashion-MNIST models.

    PYTHONPATH=<dir with onnxruntime> /usr/bin/python3 scripts/make_reference_outputs.py

For each models/fashion_*.onnx, runs ONNX Runtime (CPU, float32) on every
sample of models/fashion_eval_x.npy and writes models/<name>_ref_logits.npy
(float32 [N, 10]). tests/test_converter.cpp checks the float .quanta
conversion of each model against these outputs, so the float oracle does not
need ONNX Runtime at test time. Needs numpy and onnxruntime (pip).
"""
import os
import sys

import numpy as np
import onnxruntime as ort

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = os.path.join(ROOT, "models")


def main():
    x = np.load(os.path.join(MODELS, "fashion_eval_x.npy")).astype(np.float32)
    for name in ("fashion_cnn", "fashion_cnn_bn", "fashion_mlp"):
        sess = ort.InferenceSession(os.path.join(MODELS, name + ".onnx"),
                                    providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0].name
        out = np.concatenate([sess.run(None, {inp: x[i:i + 1]})[0] for i in range(len(x))])
        path = os.path.join(MODELS, name + "_ref_logits.npy")
        np.save(path, out.astype(np.float32))
        print(f"{path}: {out.shape} (onnxruntime {ort.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
