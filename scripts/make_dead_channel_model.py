#!/usr/bin/python3
"""Add a "TFLite-style" CNN with dead channels to the converter's test zoo.

    /usr/bin/python3 scripts/make_dead_channel_model.py            # tests/data/zoo
    /usr/bin/python3 scripts/make_dead_channel_model.py --zoo DIR

Needs only numpy and onnx (Debian's python3-numpy, python3-onnx); no torch. It
writes tflite_deadch_op13.onnx into the zoo and adds (or replaces) its entry in
the zoo's manifest.json, leaving every other entry as it is. The zoo's cifar
calibration samples (data_cifar_calib.npy, written by make_test_models.py) must
already be there: they set the BatchNorm statistics.

Why: models converted from TFLite (MLPerf-Tiny MobileNets, wide ResNets) have
output channels that training left dead: BatchNorm's gamma went to about 0, so
after BatchNorm folding the channel's weights are about 1e-30, not exactly 0,
while its bias (BatchNorm's beta) is not 0. A per-channel weight scale
max|w| / 127 is then about 1e-32 and the int32 bias b / (s_x * s_w) overflows
(docs/converter.md, "Weight scale floor"). The oracle (tests/oracle/zoo_check.py)
converts this model with no --exclude and compares it with ONNX Runtime's
quantize_static on the same calibration data.

The graph is what tf2onnx writes for such a model: BatchNorm already folded into
Conv biases, NCHW Conv / depthwise Conv (group = channels), Clip(0, 6) as ReLU6,
a residual Add, ReduceMean over H and W, MatMul + Add for the classifier. Input:
raw pixels 0..255 as float32, normalized in the graph (Mul, Add: x / 127.5 - 1).

    Mul, Add                         x / 127.5 - 1
    Conv 3x3/2 3->16, ReLU6          dead: 3 of 16
    Conv dw 3x3 16, ReLU6            dead: 3 of 16
    Conv 1x1 16->16, ReLU6           dead: 4 of 16
    Conv 3x3 16->16, Relu            residual block: conv, conv (dead: 5 of 16),
    Conv 3x3 16->16, Add, Relu         Add of the block input, Relu
    Conv dw 3x3/2 16, ReLU6          dead: 3 of 16
    Conv 1x1 16->32, ReLU6           dead: 8 of 32
    ReduceMean [2, 3], MatMul 32->10, Add     dead: rows 3 and 7; the live logits are
                                     scaled to mean ~0, standard deviation 1

Weights: He-normal with a fixed seed. Each Conv's BatchNorm statistics are the
per-channel mean and variance of its output on the calibration samples with
pixel noise added; gamma is drawn from [0.5, 1.5] (1e-30 for a dead channel)
and beta from [-0.3, 0.3] (for a dead channel, +-[0.5, 3]). Folding:
w' = w * gamma / sqrt(var + eps), b' = beta - mean * gamma / sqrt(var + eps).
Deterministic; the file is about 27 KB.
"""

import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 4321
NAME = "tflite_deadch_op13"
OPSET = 13
EPS = 1e-3
MAX_FILE = 64 * 1024


def conv2d(x, w, b, stride, pad, groups):
    """NCHW convolution (float64), as ONNX Conv defines it."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (wd + 2 * pad - kw) // stride + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    win = win[:, :, ::stride, ::stride][:, :, :oh, :ow]  # [n, c, oh, ow, kh, kw]
    mg = m // groups
    out = np.empty((n, m, oh, ow))
    for g in range(groups):
        xs = win[:, g * cg:(g + 1) * cg]
        ws = w[g * mg:(g + 1) * mg]
        out[:, g * mg:(g + 1) * mg] = np.einsum("nchwij,mcij->nmhw", xs, ws)
    return out + b.reshape(1, -1, 1, 1)


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits = [], []
        self.k = 0

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    def node(self, op, inputs, name, **attrs):
        out = f"{name}_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def conv_bn(self, x_name, x_val, cin, cout, k, stride, groups, dead, act):
        """Conv + BatchNorm folded with statistics measured on x_val; `dead` channels get
        gamma 1e-30 and a bias of +-[0.5, 3]. act: 'relu6', 'relu' or None."""
        self.k += 1
        name = f"conv{self.k}"
        cg = cin // groups
        w = self.rng.standard_normal((cout, cg, k, k)) * np.sqrt(2.0 / (cg * k * k))
        pad = k // 2
        y = conv2d(x_val, w, np.zeros(cout), stride, pad, groups)
        mean, var = y.mean(axis=(0, 2, 3)), y.var(axis=(0, 2, 3))
        gamma = self.rng.uniform(0.5, 1.5, cout)
        beta = self.rng.uniform(-0.3, 0.3, cout)
        gamma[dead] = 1e-30
        beta[dead] = self.rng.uniform(0.5, 3.0, len(dead)) * self.rng.choice([-1.0, 1.0], len(dead))
        f = gamma / np.sqrt(var + EPS)
        wf = (w * f.reshape(-1, 1, 1, 1)).astype(np.float32)
        bf = (beta - mean * f).astype(np.float32)
        out = self.node("Conv", [x_name, self.const(f"{name}.weight", wf), self.const(f"{name}.bias", bf)],
                        name, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=groups)
        yv = conv2d(x_val, wf.astype(np.float64), bf.astype(np.float64), stride, pad, groups)
        if act == "relu6":
            out = self.node("Clip", [out, self.const(f"{name}.min", 0.0), self.const(f"{name}.max", 6.0)],
                            f"{name}_relu6")
            yv = np.clip(yv, 0.0, 6.0)
        elif act == "relu":
            out = self.node("Relu", [out], f"{name}_relu")
            yv = np.maximum(yv, 0.0)
        return out, yv


def build(calib_u8, rng):
    b = Builder(rng)
    # BatchNorm statistics: the calibration images with pixel noise (not the eval set)
    xs = np.clip(calib_u8.astype(np.float64) + rng.normal(0.0, 8.0, calib_u8.shape), 0, 255)
    x = b.node("Mul", ["input", b.const("scale", np.float32(1.0 / 127.5))], "normalize_mul")
    x = b.node("Add", [x, b.const("shift", np.float32(-1.0))], "normalize_add")
    xv = xs / 127.5 - 1.0
    x, xv = b.conv_bn(x, xv, 3, 16, 3, 2, 1, [2, 9, 13], "relu6")
    x, xv = b.conv_bn(x, xv, 16, 16, 3, 1, 16, [4, 9, 11], "relu6")
    x, xv = b.conv_bn(x, xv, 16, 16, 1, 1, 1, [0, 5, 6, 14], "relu6")
    y, yv = b.conv_bn(x, xv, 16, 16, 3, 1, 1, [], "relu")
    y, yv = b.conv_bn(y, yv, 16, 16, 3, 1, 1, [1, 3, 8, 10, 15], None)
    x = b.node("Relu", [b.node("Add", [x, y], "residual_add")], "residual_relu")
    xv = np.maximum(xv + yv, 0.0)
    x, xv = b.conv_bn(x, xv, 16, 16, 3, 2, 16, [2, 7, 12], "relu6")
    x, xv = b.conv_bn(x, xv, 16, 32, 1, 1, 1, [1, 4, 6, 11, 17, 22, 26, 30], "relu6")
    x = b.node("ReduceMean", [x], "global_pool", axes=[2, 3], keepdims=0)
    # Classifier normalized like the convolutions: every logit has mean ~0 and
    # standard deviation 1 on the statistics data, so that top-1 varies.
    fv = xv.mean(axis=(2, 3))
    wfc = rng.standard_normal((32, 10))
    wfc /= ((fv - fv.mean(axis=0)) @ wfc).std(axis=0)
    bfc = rng.uniform(-0.2, 0.2, 10) - fv.mean(axis=0) @ wfc
    for r in (3, 7):  # dead classifier rows, as the dead channels above
        wfc[:, r] *= 1e-30
        bfc[r] = rng.uniform(0.5, 3.0) * rng.choice([-1.0, 1.0])
    x = b.node("MatMul", [x, b.const("fc.weight", wfc)], "fc_matmul")
    b.nodes.append(helper.make_node("Add", [x, b.const("fc.bias", bfc)], ["output"], name="fc_add"))
    graph = helper.make_graph(
        b.nodes, "tflite_deadch",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])], b.inits)
    model = helper.make_model(graph, producer_name="quanta make_dead_channel_model.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def add_to_zoo(zoo):
    """Writes the model into `zoo` and puts its entry in the zoo's manifest.json."""
    manifest_path = os.path.join(zoo, "manifest.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    calib = np.load(os.path.join(zoo, manifest["data"]["cifar"]["calib"]))
    model = build(calib, np.random.default_rng(SEED))
    path = os.path.join(zoo, NAME + ".onnx")
    onnx.save(model, path)
    size = os.path.getsize(path)
    if size > MAX_FILE:
        raise SystemExit(f"{path}: {size} bytes > {MAX_FILE}")
    entry = {"name": NAME, "file": NAME + ".onnx", "family": "tflite_deadch", "opset": OPSET,
             "variant": "plain", "input": "input", "input_shape": [1, 3, 32, 32], "layout": "nchw",
             "data": "cifar", "ops": sorted({n.op_type for n in model.graph.node}), "expect": "ok",
             "generator": "scripts/make_dead_channel_model.py"}
    manifest["models"] = [m for m in manifest["models"] if m["name"] != NAME] + [entry]
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"  {NAME}: {size} bytes, {len(model.graph.node)} nodes: {' '.join(entry['ops'])}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zoo", default=os.path.join(here, "..", "tests", "data", "zoo"))
    add_to_zoo(os.path.normpath(ap.parse_args().zoo))


if __name__ == "__main__":
    main()
