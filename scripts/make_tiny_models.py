#!/usr/bin/python3
"""Build MLPerf-Tiny-style float ONNX models (random weights) for whole-model benchmarks.

Run with Debian's interpreter, /usr/bin/python3 (NOT a pyenv/venv python3); it needs
python3-torch (1.13), python3-onnx and python3-numpy, nothing else. Do NOT put a newer
onnx (>= 1.14, e.g. the one scripts/install_onnxruntime.sh puts in build/pydeps) on PYTHONPATH: torch
1.13's exporter fails with it.

    /usr/bin/python3 scripts/make_tiny_models.py
    /usr/bin/python3 scripts/make_tiny_models.py --out DIR --large-out DIR2 --only resnet8

What it writes: <name>.onnx (opset 13, batch 1, fixed shapes, input 'input', output
'output', NCHW) and <name>_calib.npy (float32, [N, *input shape without the batch]
stacked on axis 0, i.e. the layout `quanta convert --calib` reads):

  name        input           architecture (MLPerf Tiny reference)           file
  resnet8     [1,3,32,32]     image classification (CIFAR-10): conv3x3 16,   build/tiny
                              3 residual stages 16/32/64 (stride 1/2/2, 1x1
                              projection shortcut when the shape changes),
                              avgpool 8x8, FC 10, softmax
  dscnn       [1,1,49,10]     keyword spotting: conv 10x4 stride 2 64 ch,    build/tiny
                              4 x (dw3x3 + BN + ReLU + pw 64 + BN + ReLU),
                              avgpool 25x5, FC 12, softmax
  mobilenet   [1,3,96,96]     visual wake words: MobileNetV1 alpha 0.25      build/tiny
                              (13 depthwise-separable blocks, 8..256 ch),
                              avgpool 3x3, FC 2, softmax
  autoenc     [1,640]         anomaly detection: FC autoencoder              build/tiny
                              640-128-128-128-128-8-128-128-128-128-640,
                              BN + ReLU after every layer but the last;
                              the BNs are folded into the Gemms before
                              export (ORT's quantize_static cannot fold a
                              BatchNormalization after a Gemm and quantizes
                              it badly); --autoenc-bn keeps them as nodes

Size: the float files take about 4 MB together (mobilenet ~0.85 MB, autoenc ~1.1 MB,
calibration data), so nothing is committed: every file goes to build/tiny/
(git-ignored) by default, and this script regenerates them in about 10 s, byte for
byte. --out / --large-out choose other directories.

Weights: torch default initialization with fixed seeds per model. Every BatchNorm's
running statistics are set by a few train-mode forward passes (cumulative average,
momentum=None) over random data-like batches, then the model is put in eval() and
exported, so activations stay well scaled through the depth (no exploding or dead
layers). The BN affine parameters are drawn near (1, 0). Models are not trained:
they are for latency and quantization error, not accuracy.

Calibration data (32 samples per model, fixed seed, structured rather than white noise):
  images (resnet8, mobilenet): smoothed colour noise (low-resolution noise upsampled
      bilinearly) with random contrast/brightness, normalized to roughly zero mean and
      unit variance per channel, like a normalized photo.
  dscnn: MFCC-like [49 frames x 10 coefficients]: smooth in time, variance falling with
      the coefficient index, coefficient 0 with a large offset.
  autoenc: 5 frames x 128 log-mel bins flattened to 640: a smooth spectral envelope
      per sample plus small frame-to-frame variation.

Deterministic (fixed seeds, torch.set_num_threads(1)); checks every model with
onnx.checker and prints each file's size and the directories' totals.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OPSET = 13
N_CALIB = 32


# ----------------------------------------------------------------------------- models

def conv_bn(cin, cout, k, stride=1, pad=None, groups=1, relu=True):
    if pad is None:
        pad = (k[0] // 2, k[1] // 2) if isinstance(k, tuple) else k // 2
    layers = [nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False),
              nn.BatchNorm2d(cout, momentum=None)]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = conv_bn(cin, cout, 3, stride)
        self.b = conv_bn(cout, cout, 3, 1, relu=False)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                                       nn.BatchNorm2d(cout, momentum=None))

    def forward(self, x):
        s = x if self.short is None else self.short(x)
        return F.relu(self.b(self.a(x)) + s)


class ResNet8(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn(3, 16, 3)
        self.stages = nn.Sequential(ResBlock(16, 16, 1), ResBlock(16, 32, 2), ResBlock(32, 64, 2))
        self.pool = nn.AvgPool2d(8)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.pool(self.stages(self.stem(x)))
        return torch.softmax(self.fc(torch.flatten(x, 1)), dim=1)


def dw_sep(cin, cout, stride):
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, cout, 1, 1, pad=0))


class DSCNN(nn.Module):
    def __init__(self, classes=12, ch=64):
        super().__init__()
        # 'same' padding of a 10x4 stride-2 conv on 49x10 gives 25x5; symmetric (5, 1) does too
        self.stem = conv_bn(1, ch, (10, 4), 2, pad=(5, 1))
        self.blocks = nn.Sequential(*[dw_sep(ch, ch, 1) for _ in range(4)])
        self.pool = nn.AvgPool2d((25, 5))
        self.fc = nn.Linear(ch, classes)

    def forward(self, x):
        x = self.pool(self.blocks(self.stem(x)))
        return torch.softmax(self.fc(torch.flatten(x, 1)), dim=1)


class MobileNetV1(nn.Module):
    # (output channels at alpha 1, stride) of the 13 depthwise-separable blocks
    CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + \
          [(1024, 2), (1024, 1)]

    def __init__(self, alpha=0.25, classes=2):
        super().__init__()
        c = int(32 * alpha)
        layers = [conv_bn(3, c, 3, 2)]
        for cout, s in self.CFG:
            cout = int(cout * alpha)
            layers.append(dw_sep(c, cout, s))
            c = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AvgPool2d(3)          # 96 / 32 = 3
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.pool(self.features(x))
        return torch.softmax(self.fc(torch.flatten(x, 1)), dim=1)


class AutoEncoder(nn.Module):
    def __init__(self, dims=(640, 128, 128, 128, 128, 8, 128, 128, 128, 128, 640)):
        super().__init__()
        layers = []
        for i in range(len(dims) - 1):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                layers += [nn.BatchNorm1d(dims[i + 1], momentum=None), nn.ReLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)

    def folded(self):
        """The same function with every BatchNorm1d folded into the Linear before it."""
        layers, mods = [], list(self.net)
        for m in mods:
            if isinstance(m, nn.BatchNorm1d):
                lin = layers[-1]
                k = m.weight / torch.sqrt(m.running_var + m.eps)
                fused = nn.Linear(lin.in_features, lin.out_features)
                fused.weight.copy_(lin.weight * k[:, None])
                fused.bias.copy_((lin.bias - m.running_mean) * k + m.bias)
                layers[-1] = fused
            else:
                layers.append(m)
        out = AutoEncoder.__new__(AutoEncoder)
        nn.Module.__init__(out)
        out.net = nn.Sequential(*layers)
        return out.eval()


# ----------------------------------------------------------------------------- data

def smooth_images(rng, n, c, h, w):
    out = np.empty((n, c, h, w), np.float32)
    for i in range(n):
        lo = max(2, h // int(rng.choice([4, 8, 16])))
        base = torch.from_numpy(rng.standard_normal((1, c, lo, lo)).astype(np.float32))
        img = F.interpolate(base, size=(h, w), mode="bilinear", align_corners=False)[0].numpy()
        img += 0.15 * rng.standard_normal((c, h, w)).astype(np.float32)
        contrast = rng.uniform(0.5, 1.5)
        bright = rng.uniform(-0.5, 0.5)
        img = img * contrast + bright
        out[i] = img
    # roughly normalized, like (x - mean) / std of a photo data set
    out = (out - out.mean(axis=(0, 2, 3), keepdims=True)) / out.std(axis=(0, 2, 3), keepdims=True)
    return out.astype(np.float32)


def mfcc_like(rng, n, frames=49, coefs=10):
    out = np.empty((n, 1, frames, coefs), np.float32)
    scale = 1.0 / (1.0 + 0.4 * np.arange(coefs))
    kernel = np.hanning(7)
    kernel /= kernel.sum()
    for i in range(n):
        x = rng.standard_normal((frames + 6, coefs))
        x = np.stack([np.convolve(x[:, j], kernel, mode="valid") for j in range(coefs)], 1)
        x = x * 2.5 * scale
        x[:, 0] += rng.uniform(-3.0, 1.0)          # energy coefficient offset
        out[i, 0] = x[:frames]
    return out


def logmel_like(rng, n, frames=5, mels=128):
    out = np.empty((n, frames * mels), np.float32)
    f = np.linspace(0, 1, mels)
    for i in range(n):
        env = -2.0 * f + sum(rng.normal(0, 0.6) * np.cos(np.pi * k * f) for k in range(1, 6))
        env += rng.uniform(-1, 1)
        fr = env[None, :] + 0.3 * rng.standard_normal((frames, mels)) + \
            0.2 * rng.standard_normal((frames, 1))
        out[i] = fr.reshape(-1)
    return out


# ----------------------------------------------------------------------------- build

SPECS = {
    # name: (constructor, input shape without batch, data function, seed, large)
    "resnet8": (ResNet8, (3, 32, 32), lambda r, n: smooth_images(r, n, 3, 32, 32), 101, False),
    "dscnn": (DSCNN, (1, 49, 10), mfcc_like, 102, False),
    "mobilenet": (MobileNetV1, (3, 96, 96), lambda r, n: smooth_images(r, n, 3, 96, 96), 103, True),
    "autoenc": (AutoEncoder, (640,), logmel_like, 104, True),
}


def build(name, out_dir, keep_bn=False):
    ctor, shape, data_fn, seed, _ = SPECS[name]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = ctor()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
        # BN running statistics: cumulative average over a few train-mode batches
        model.train()
        for _ in range(8):
            model(torch.from_numpy(data_fn(rng, 32)))
    model.eval()
    if isinstance(model, AutoEncoder) and not keep_bn:
        with torch.no_grad():
            model = model.folded()

    calib = data_fn(np.random.default_rng(seed + 1000), N_CALIB).astype(np.float32)
    assert calib.shape == (N_CALIB,) + shape, calib.shape
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, name + ".onnx")
    calib_path = os.path.join(out_dir, name + "_calib.npy")
    dummy = torch.from_numpy(calib[:1])
    with torch.no_grad():
        torch.onnx.export(model, dummy, onnx_path, opset_version=OPSET,
                          input_names=["input"], output_names=["output"],
                          do_constant_folding=True)
        ref = model(torch.from_numpy(calib)).numpy()
    np.save(calib_path, calib)

    import onnx
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    # sanity: outputs finite and not collapsed
    assert np.all(np.isfinite(ref)), name
    print(f"{name:10s} {onnx_path} {os.path.getsize(onnx_path):>9,} B  calib {calib.shape} "
          f"{os.path.getsize(calib_path):>8,} B  nodes {len(m.graph.node)} ops {','.join(ops)}  "
          f"output std {ref.std():.3g}")
    return [onnx_path, calib_path]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "tiny"),
                    help="directory for resnet8 and dscnn (default build/tiny)")
    ap.add_argument("--large-out", default=os.path.join(ROOT, "build", "tiny"),
                    help="directory for mobilenet and autoenc (default build/tiny, git-ignored)")
    ap.add_argument("--all-in-out", action="store_true", help="write every model to --out")
    ap.add_argument("--autoenc-bn", action="store_true",
                    help="export the autoencoder's BatchNormalization nodes instead of folding them")
    ap.add_argument("--only", action="append", choices=sorted(SPECS), help="build only this model")
    args = ap.parse_args()
    torch.set_num_threads(1)
    written = []
    for name in (args.only or list(SPECS)):
        large = SPECS[name][4] and not args.all_in_out
        written += build(name, args.large_out if large else args.out, args.autoenc_bn)
    for d in sorted({os.path.dirname(p) for p in written}):
        total = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)
                    if os.path.isfile(os.path.join(d, f)))
        print(f"{d}: {total:,} B in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
