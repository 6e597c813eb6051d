#!/usr/bin/python3
"""Build the converter's test zoo: small ONNX models nobody tuned the converter for.

Run with Debian's interpreter, /usr/bin/python3 (NOT a pyenv/venv python3 that may
come first on PATH); it needs the Debian packages python3-torch (1.13), python3-onnx
and python3-numpy, nothing else:

    /usr/bin/python3 scripts/make_test_models.py            # writes tests/data/zoo/
    /usr/bin/python3 scripts/make_test_models.py --out DIR

What it writes (all small, meant to be committed; tests/oracle/zoo_check.py reads them):

  <family>_op<N>[_<variant>].onnx   torch-exported float models at several opsets
  data_<kind>_calib.npy             uint8 calibration samples (64), shared by every
  data_<kind>_eval.npy              model of that input kind / uint8 eval samples
  manifest.json                     one entry per model: file, family, opset, variant,
                                    input name/shape/layout, data kind, expectation

Families (every one takes raw pixel values 0..255 as float32; the models that need
it normalize inside the graph, as many exported models do):

  lenet5        MNIST LeNet-5 style: conv5x5-relu-maxpool x2, torch.flatten(x, 1) of a
                16x4x4 feature map (so the Flatten must follow NCHW order), 2 Gemms
  view_flatten  the same kind of net flattened with x.view(x.size(0), -1) (the
                Shape/Gather/Unsqueeze/Concat/Reshape chain); its _dynbatch variant
                has a dynamic batch axis, so the chain is not folded by the exporter
  resnet8       CIFAR ResNet-8 style: (x-127.5)/64 in the graph (Sub, Div), conv-BN-relu
                stem, 3 basic blocks (residual Add, stride-2 convs with 1x1 conv
                shortcut), GlobalAveragePool, Gemm. Variants: _bn keeps the
                BatchNormalization nodes (export with training=PRESERVE,
                do_constant_folding=False), _dynbatch has a dynamic batch axis,
                _initinputs uses keep_initializers_as_inputs=True
  mobilenetv2   BatchNorm on the input (not after a conv: stays a BN node), stride-2
                stem, inverted residual blocks (1x1 expand, depthwise 3x3, 1x1 linear
                project, residual Add), ReLU6 (exported as Clip), GAP + GlobalMaxPool, Gemm
  squeezenet    x/255 (Mul), conv, MaxPool 3x3/2 ceil_mode=True, Fire modules (squeeze
                1x1, Concat of 1x1 and 3x3 expand branches), classifier conv 1x1, GAP
  avgpool_softmax  input BN, Pad(reflect) + conv, AveragePool 2x2, AveragePool 3x3/2 pad 1 with
                count_include_pad=False, dilated conv, AveragePool down to 1x1, conv 1x1,
                Softmax over the channel axis of a 4-D tensor, Squeeze x2
  se_hardswish  conv-BN-HardSwish stem, depthwise conv, SE block (GAP -> Gemm -> ReLU ->
                Gemm -> Sigmoid -> Unsqueeze x2 -> Mul broadcast over H, W), GAP, Gemm.
                HardSwish is an ONNX op from opset 14; older opsets get HardSigmoid + Mul
  reducemean_head  two convs, then x.mean((2, 3)) (ReduceMean over H and W, the common
                hand-written global pooling), Gemm
  nhwc_matmul   a "TensorFlow-style" graph: NHWC input [1,32,32,3] -> Transpose ->
                convs -> Transpose back to NHWC -> Reshape -> MatMul + Add -> Softmax
  mlp_dropout   MLP 64-64-32-10 (LeakyRelu, Tanh) on a flattened 8x8 image with Dropout; torch
                drops Dropout from eval exports, so the Dropout nodes are put back in
                the ONNX graph in each opset's form (ratio attribute before 12, ratio
                input from 12), as other exporters write them
  bn_trainmode  conv-BN-relu-GAP-Gemm exported with training=TrainingMode.TRAINING
                (opsets 9, 13: BatchNormalization with 5 outputs; 15: training_mode=1):
                it normalizes with batch statistics, it is not an inference graph, so
                conversion must be refused (expect: error mentioning "training")
  tflite_deadch  (written by scripts/make_dead_channel_model.py, called at the end) a
                TFLite-style CNN, BatchNorm folded, depthwise/pointwise and residual
                blocks, with dead channels: weights ~1e-30 and non-zero biases
  upsample_unsupported  a net with nearest-neighbour upsampling (ONNX Upsample at opset 9,
                Resize at 13), which the converter does not support: conversion must fail
                with a clear message naming the op (manifest "expect": {"error": [...]})

Data kinds (uint8, values are the model input's real values 0..255):
  mnist  [N,1,28,28]  dark background with smooth bright strokes (thresholded,
                      blurred noise), like handwritten digits
  cifar  [N,3,32,32]  smoothed colour noise with random contrast and brightness
                      (the nhwc_matmul models read it transposed to NHWC)
  flat64 [N,64]       8x8 smoothed noise images, flattened
Calibration: 64 samples per kind; evaluation: 200 (mnist, flat64) or 100 (cifar).

Weights: torch default initialization with fixed seeds; every BatchNorm's running
statistics are set by a few hundred forward passes of random data-like inputs in
train mode (cumulative average), then the model is put in eval mode. The models are
not trained: the zoo tests conversion and quantization error, not accuracy.

Do not put a newer onnx first on PYTHONPATH: torch 1.13's exporter imports onnx and fails
with onnx >= 1.14. To check every export against torch in onnxruntime, pass the
directory onnxruntime is installed in with --ort-path (appended to sys.path).

Deterministic: fixed seeds, 1 intra-op thread. The script checks each file < 200 KB
and the directory < 2 MB, and that onnx.checker accepts every model.
"""

import argparse
import io
import json
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 1234
N_CALIB = 64
N_EVAL = {"mnist": 200, "cifar": 100, "flat64": 200}
MAX_FILE = 200 * 1024
MAX_DIR = 2 * 1024 * 1024


# ----------------------------------------------------------------------------- data

def smooth(x, passes, axes):
    """Box-blur x `passes` times along the given axes (3-tap, wrap-around)."""
    for _ in range(passes):
        for ax in axes:
            x = (np.roll(x, 1, axis=ax) + x + np.roll(x, -1, axis=ax)) / 3.0
    return x


def make_mnist(rng, n):
    noise = rng.standard_normal((n, 1, 28, 28))
    s = smooth(noise, 4, (2, 3))
    s = (s - s.mean(axis=(2, 3), keepdims=True)) / s.std(axis=(2, 3), keepdims=True)
    # keep the brightest ridges (strokes) in the central 20x20, MNIST-like
    thr = rng.uniform(0.6, 1.2, size=(n, 1, 1, 1))
    strokes = np.clip((s - thr) * 2.0, 0.0, 1.0)
    mask = np.zeros((1, 1, 28, 28))
    mask[..., 4:24, 4:24] = 1.0
    img = smooth(strokes * mask, 1, (2, 3))
    img = img / np.maximum(img.max(axis=(2, 3), keepdims=True), 1e-6)
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def make_cifar(rng, n):
    coarse = smooth(rng.standard_normal((n, 3, 32, 32)), 6, (2, 3))
    fine = smooth(rng.standard_normal((n, 3, 32, 32)), 1, (2, 3))
    lum = smooth(rng.standard_normal((n, 1, 32, 32)), 5, (2, 3))
    img = 2.5 * coarse + 0.3 * fine + 2.0 * lum
    img = (img - img.mean(axis=(1, 2, 3), keepdims=True)) / img.std(axis=(1, 2, 3), keepdims=True)
    contrast = rng.uniform(30.0, 70.0, size=(n, 1, 1, 1))
    bright = rng.uniform(80.0, 170.0, size=(n, 1, 1, 1))
    return np.clip(np.round(img * contrast + bright), 0, 255).astype(np.uint8)


def make_flat64(rng, n):
    s = smooth(rng.standard_normal((n, 8, 8)), 2, (1, 2))
    s = (s - s.min(axis=(1, 2), keepdims=True))
    s = s / np.maximum(s.max(axis=(1, 2), keepdims=True), 1e-6)
    return np.clip(np.round(s * 255.0), 0, 255).astype(np.uint8).reshape(n, 64)


DATA_MAKERS = {"mnist": make_mnist, "cifar": make_cifar, "flat64": make_flat64}
DATA_SHAPES = {"mnist": [1, 28, 28], "cifar": [3, 32, 32], "flat64": [64]}


# ----------------------------------------------------------------------------- models

class LeNet5(nn.Module):
    def __init__(self, use_view=False):
        super().__init__()
        self.use_view = use_view
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 12, 5)
        self.fc1 = nn.Linear(12 * 4 * 4, 24)
        self.fc2 = nn.Linear(24, 10)

    def forward(self, x):
        x = x * (1.0 / 255.0) if self.use_view else x  # the view net normalizes in-graph
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        if self.use_view:
            x = x.view(x.size(0), -1)
        else:
            x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.short is None else self.short(x)
        return F.relu(y + s)


class ResNet8(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.layer1 = BasicBlock(8, 8, 1)
        self.layer2 = BasicBlock(8, 12, 2)
        self.layer3 = BasicBlock(12, 16, 2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = (x - 127.5) / 64.0
        x = F.relu(self.bn(self.stem(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)  # GlobalAveragePool + Flatten
        return self.fc(x)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.body = nn.Sequential(
            nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(),
            nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(),
            nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.body(x)
        return x + y if self.use_res else y


class MobileNetV2ish(nn.Module):
    def __init__(self):
        super().__init__()
        self.in_bn = nn.BatchNorm2d(3)  # input normalization as a BN layer
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.blocks = nn.Sequential(
            InvertedResidual(8, 8, 1, 3),
            InvertedResidual(8, 16, 2, 3),
            InvertedResidual(16, 16, 1, 3))
        self.head = nn.Sequential(nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6())
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(self.in_bn(x))))
        x = F.adaptive_avg_pool2d(x, 1) + F.adaptive_max_pool2d(x, 1)  # GAP + GlobalMaxPool
        return self.fc(torch.flatten(x, 1))


class Fire(nn.Module):
    def __init__(self, cin, sq, ex):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, sq, 1)
        self.e1 = nn.Conv2d(sq, ex, 1)
        self.e3 = nn.Conv2d(sq, ex, 3, padding=1)

    def forward(self, x):
        s = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.e1(s)), F.relu(self.e3(s))], 1)


class SqueezeNetish(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 2)  # 32 -> 15
        self.fire1 = Fire(16, 8, 16)
        self.fire2 = Fire(32, 8, 16)
        self.fire3 = Fire(32, 12, 24)
        self.cls = nn.Conv2d(48, 10, 1)

    def forward(self, x):
        x = x * (1.0 / 255.0)
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)  # 15 -> 7
        x = self.fire2(self.fire1(x))
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)  # 7 -> 3
        x = self.fire3(x)
        x = F.relu(self.cls(x))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class AvgPoolSoftmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.in_bn = nn.BatchNorm2d(3)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect")  # Pad(reflect) + Conv
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, 24, 3, padding=2, dilation=2)
        self.cls = nn.Conv2d(24, 10, 1)

    def forward(self, x):
        x = self.in_bn(x)
        x = F.avg_pool2d(F.relu(self.conv1(x)), 2)                   # 32 -> 16
        x = F.avg_pool2d(F.relu(self.conv2(x)), 3, 2, 1, count_include_pad=False)  # 16 -> 8
        x = F.avg_pool2d(F.relu(self.conv3(x)), 8)                   # 8 -> 1
        x = torch.softmax(self.cls(x), dim=1)                          # [1,10,1,1]
        return x.squeeze(3).squeeze(2)                                 # Squeeze (axes attr < 13)


class SEBlock(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.fc1 = nn.Linear(c, c // r)
        self.fc2 = nn.Linear(c // r, c)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1).flatten(1)
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s.unsqueeze(-1).unsqueeze(-1)  # Unsqueeze (axes attr < 13), Mul broadcast


class SEHardSwish(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.se = SEBlock(16, 4)
        self.pw = nn.Conv2d(16, 24, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(24)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        x = (x - 127.5) * (1.0 / 64.0)
        x = F.hardswish(self.bn1(self.stem(x)))
        x = F.hardswish(self.bn2(self.dw(x)))
        x = self.se(x)
        x = F.hardswish(self.bn3(self.pw(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class NHWCMatMul(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.conv2 = nn.Conv2d(8, 8, 3, 2, 1)
        self.w = nn.Parameter(torch.randn(8 * 8 * 8, 10) / np.sqrt(8 * 8 * 8))
        self.b = nn.Parameter(torch.randn(10) * 0.1)

    def forward(self, x):  # x: NHWC
        x = (x.permute(0, 3, 1, 2) - 127.5) / 64.0
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = x.permute(0, 2, 3, 1).reshape(1, -1)      # TF's NHWC flatten order
        return torch.softmax(torch.matmul(x, self.w) + self.b, dim=-1)


class MLPDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = x * (1.0 / 255.0)
        x = F.dropout(F.leaky_relu(self.fc1(x), 0.1), 0.25, self.training)
        x = F.dropout(torch.tanh(self.fc2(x)), 0.25, self.training)
        return self.fc3(x)


class UpsampleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.conv2 = nn.Conv2d(8, 8, 3, 1, 1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x * (1.0 / 255.0)))
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")  # Upsample (opset 9) / Resize
        x = F.relu(self.conv2(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class ReduceMeanHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 2, 1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x * (1.0 / 255.0)))))
        return self.fc(x.mean((2, 3)))  # ReduceMean over H, W (a common hand-written pooling)


class TrainModeNet(nn.Module):
    """Exported with training=TrainingMode.TRAINING: BatchNormalization in training form
    (5 outputs before opset 14, training_mode=1 from 14). No Dropout, so that the
    BatchNormalization is what the converter has to notice."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x * (1.0 / 255.0))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# family -> (constructor, data kind, input layout, opsets, variants)
# A variant is (suffix, opset, options); options: dynbatch, initinputs, keep_bn.
FAMILIES = {
    "lenet5": (lambda: LeNet5(False), "mnist", "nchw", [7, 9, 11, 13, 17], [("initinputs", 9, {"initinputs": True})]),
    "view_flatten": (lambda: LeNet5(True), "mnist", "nchw", [9, 11, 13, 17], [("dynbatch", 11, {"dynbatch": True})]),
    "resnet8": (ResNet8, "cifar", "nchw", [7, 9, 13, 17],
                [("bn", 7, {"keep_bn": True}), ("bn", 17, {"keep_bn": True}),
                 ("dynbatch", 13, {"dynbatch": True})]),
    "mobilenetv2": (MobileNetV2ish, "cifar", "nchw", [9, 11, 13, 17], []),  # no GlobalMaxPool export at 7
    "squeezenet": (SqueezeNetish, "cifar", "nchw", [7, 11, 17], []),
    "avgpool_softmax": (AvgPoolSoftmax, "cifar", "nchw", [7, 9, 11, 13, 17], []),
    "se_hardswish": (SEHardSwish, "cifar", "nchw", [9, 13, 14, 17], []),
    "nhwc_matmul": (NHWCMatMul, "cifar", "nhwc", [9, 13, 17], []),
    "mlp_dropout": (MLPDropout, "flat64", "flat", [7, 11, 13, 17], []),
    "reducemean_head": (ReduceMeanHead, "cifar", "nchw", [11, 17], []),
    "upsample_unsupported": (UpsampleNet, "cifar", "nchw", [9, 13], []),
    "bn_trainmode": (TrainModeNet, "cifar", "nchw", [], [("train", 9, {"train": True}), ("train", 13, {"train": True}),
                                                         ("train", 15, {"train": True})]),
}
# Expected conversion errors: every listed substring must be in the message. The op
# name depends on the opset (Upsample before 10, Resize after), so it is filled in below.
EXPECT = {"upsample_unsupported": {"error": ["not supported"], "error_op": {9: "Upsample", 13: "Resize"}},
          # a training-mode graph computes batch statistics: converting it with the running
          # statistics would silently change the model, so it must be refused
          "bn_trainmode": {"error": ["training"]}}


def expectation(family, opset):
    e = EXPECT.get(family)
    if e is None:
        return "ok"
    subs = list(e["error"])
    if opset in e.get("error_op", {}):
        subs.insert(0, e["error_op"][opset])
    return {"error": subs}


def ort_check(path, model, x):
    """If onnxruntime is importable, check the exported file against torch (a wrong
    export would make every later comparison meaningless). Returns a note."""
    try:
        import onnxruntime as ort
    except ImportError:
        return ""
    ort.set_default_logger_severity(3)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    try:
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    except Exception as e:  # noqa: BLE001
        return f" [ORT cannot run it: {str(e).splitlines()[0]}]"
    with torch.no_grad():
        ref = model(x).numpy()
    err = float(np.abs(got - ref).max())
    rng = float(ref.max() - ref.min()) or 1.0
    if err > 1e-4 * rng:
        raise RuntimeError(f"ORT output differs from torch: max err {err:g}, range {rng:g}")
    return f" [ORT=torch, err {err:.1e}]"


def input_for(kind, layout, x_u8):
    x = torch.from_numpy(x_u8.astype(np.float32))
    if layout == "nhwc":
        x = x.permute(0, 2, 3, 1).contiguous()
    return x


def set_bn_stats(model, x_u8, layout, passes):
    """Run data-like batches through the model in train mode so every BatchNorm gets
    running statistics that match its inputs, then switch to eval mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over all passes
    if bns:
        model.train()
        g = torch.Generator().manual_seed(SEED + 7)
        with torch.no_grad():
            for _ in range(passes):
                idx = torch.randint(0, x_u8.shape[0], (16,), generator=g)
                x = input_for(None, layout, x_u8[idx.numpy()])
                # jitter so the statistics are not those of the calibration set alone
                x = torch.clamp(x + 8.0 * torch.randn(x.shape, generator=g), 0.0, 255.0)
                model(x)
    model.eval()
    return model


def insert_dropout(onnx_model, opset, ratio=0.25):
    """Put a Dropout node after every activation (torch removes Dropout from eval exports)."""
    import onnx
    from onnx import helper, numpy_helper
    g = onnx_model.graph
    new_nodes = []
    k = 0
    for node in g.node:
        new_nodes.append(node)
        if node.op_type not in ("Relu", "LeakyRelu", "Tanh"):
            continue
        src = node.output[0]
        dst = f"{src}_dropout"
        # rename readers of src
        for other in g.node:
            for i, name in enumerate(other.input):
                if name == src:
                    other.input[i] = dst
        if opset < 12:
            d = helper.make_node("Dropout", [src], [dst], name=f"/dropout{k}/Dropout", ratio=ratio)
        else:
            rname = f"dropout{k}_ratio"
            g.initializer.append(numpy_helper.from_array(np.array(ratio, dtype=np.float32), rname))
            d = helper.make_node("Dropout", [src, rname], [dst, f"{dst}_mask"], name=f"/dropout{k}/Dropout")
        new_nodes.append(d)
        k += 1
    del g.node[:]
    g.node.extend(new_nodes)
    onnx.checker.check_model(onnx_model)
    return onnx_model


def export(model, family, kind, layout, opset, opts, path):
    import onnx
    shape = [1] + DATA_SHAPES[kind]
    if layout == "nhwc":
        shape = [1, shape[2], shape[3], shape[1]]
    dummy = torch.zeros(shape)
    dyn = {"input": {0: "batch"}, "output": {0: "batch"}} if opts.get("dynbatch") else None
    keep_bn = opts.get("keep_bn", False)
    train = opts.get("train", False)
    if train:
        mode = torch.onnx.TrainingMode.TRAINING
    elif keep_bn:
        mode = torch.onnx.TrainingMode.PRESERVE
    else:
        mode = torch.onnx.TrainingMode.EVAL
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, dummy, buf,
            input_names=["input"], output_names=["output"],
            opset_version=opset,
            dynamic_axes=dyn,
            keep_initializers_as_inputs=opts.get("initinputs", False),
            training=mode,
            do_constant_folding=not (keep_bn or train),
        )
    m = onnx.load_from_string(buf.getvalue())
    if family == "mlp_dropout":
        m = insert_dropout(m, opset)
    onnx.checker.check_model(m)
    if keep_bn:
        bn = [n for n in m.graph.node if n.op_type == "BatchNormalization"]
        assert bn and all(len(n.output) == 1 for n in bn), "expected inference-form BN nodes"
    onnx.save(m, path)
    return m, shape


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "zoo"))
    ap.add_argument("--ort-path", metavar="DIR",
                    help="directory holding onnxruntime (e.g. a pip --target dir); it is "
                         "appended to sys.path so that Debian's onnx still wins, and every "
                         "export is then checked against torch in onnxruntime")
    args = ap.parse_args()
    if args.ort_path:
        sys.path.append(args.ort_path)
    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    data = {}
    for i, (kind, maker) in enumerate(DATA_MAKERS.items()):
        rng = np.random.default_rng(SEED + 100 * i)
        calib = maker(rng, N_CALIB)
        ev = maker(rng, N_EVAL[kind])
        bnset = maker(rng, 256)  # only for BN statistics, not saved
        np.save(os.path.join(out, f"data_{kind}_calib.npy"), calib)
        np.save(os.path.join(out, f"data_{kind}_eval.npy"), ev)
        data[kind] = bnset

    manifest = {"generator": "scripts/make_test_models.py", "torch": torch.__version__,
                "input_note": "inputs are raw pixel values 0..255 as float32; the data files "
                              "are uint8 of the same values (nhwc models: transpose the NCHW data)",
                "data": {k: {"calib": f"data_{k}_calib.npy", "eval": f"data_{k}_eval.npy",
                             "shape": DATA_SHAPES[k]} for k in DATA_MAKERS},
                "models": []}
    for fi, (family, (ctor, kind, layout, opsets, variants)) in enumerate(FAMILIES.items()):
        torch.manual_seed(SEED + fi)
        model = ctor()
        layout_for_bn = layout
        model = set_bn_stats(model, data[kind], layout_for_bn, 200)
        jobs = [("", op, {}) for op in opsets] + list(variants)
        for suffix, opset, opts in jobs:
            name = f"{family}_op{opset}" + (f"_{suffix}" if suffix else "")
            path = os.path.join(out, name + ".onnx")
            try:
                m, shape = export(model, family, kind, layout, opset, opts, path)
            except Exception as e:  # the exporter refuses some op/opset pairs
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                print(f"  {name}: not exported: {msg}")
                if os.path.exists(path):
                    os.remove(path)
                continue
            ops = sorted({n.op_type for n in m.graph.node})
            size = os.path.getsize(path)
            note = " [training graph: not compared]" if opts.get("train") else \
                ort_check(path, model, input_for(kind, layout, data[kind][:1]))
            entry = {"name": name, "file": name + ".onnx", "family": family, "opset": opset,
                     "variant": suffix or "plain", "input": "input", "input_shape": shape,
                     "layout": layout, "data": kind, "ops": ops,
                     "expect": expectation(family, opset)}
            manifest["models"].append(entry)
            print(f"  {name}: {size} bytes, {len(m.graph.node)} nodes: {' '.join(ops)}{note}")
            if size > MAX_FILE:
                sys.exit(f"{name}: {size} bytes > {MAX_FILE}")
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    import make_dead_channel_model  # numpy + onnx only; appends its own manifest entry
    make_dead_channel_model.add_to_zoo(out)
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"{len(manifest['models'])} models, directory {total} bytes")
    if total > MAX_DIR:
        sys.exit(f"directory {total} bytes > {MAX_DIR}")


if __name__ == "__main__":
    main()
