#!/usr/bin/python3
"""Train the small float Fashion-MNIST models bundled in models/ and export them to ONNX.

Run with Debian's interpreter, /usr/bin/python3 (NOT a pyenv/venv python3 that
may come first on PATH): the dependencies are the Debian packages python3-torch,
python3-onnx, python3-numpy and dataset-fashion-mnist. scripts/train_models.sh
installs them and runs this script:

    scripts/train_models.sh            # or: /usr/bin/python3 scripts/train_models.py

Outputs (in models/, see docs/models.md):
    fashion_cnn.onnx, fashion_mlp.onnx   float32 models, opset 13, input "input"
                                         [1,1,28,28], output "logits" [1,10]; exported
                                         in eval mode (the exporter folds each
                                         BatchNorm into the preceding Conv)
    fashion_cnn_bn.onnx                  the same trained CNN with its three
                                         BatchNormalization nodes kept (inference
                                         form), for testing the converter's BN folding
    fashion_calib_x.npy                  float32 [256,1,28,28] normalized training images
    fashion_eval_x.npy                   float32 [1000,1,28,28] normalized test images
    fashion_eval_y.npy                   int64 [1000] labels of fashion_eval_x

Preprocessing (applied to every sample file above, and expected by both models):
    x = (pixel / 255 - 0.2860) / 0.3530     pixel is the uint8 grayscale value, NCHW

Deterministic: fixed seeds, a fixed 2 intra-op CPU threads,
torch.use_deterministic_algorithms(True). Re-running on the same machine and
torch build reproduces the files bit for bit; a different CPU (oneDNN picks
kernels by ISA) may differ in the last float bits.
The dataset is read from the files installed by dataset-fashion-mnist and parsed
with numpy (idx format, gzip).
"""

import argparse
import gzip
import os
import random
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN = 0.2860
STD = 0.3530
SEED = 20240601
N_CALIB = 256
N_EVAL = 1000
OPSET = 13


# ----------------------------------------------------------------------------- data

def read_idx(path):
    """Parse an idx file (optionally gzip-compressed) into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: bad idx magic")
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:
        raise ValueError(f"{path}: expected unsigned byte data, got type 0x{dtype_code:02x}")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(data) != offset + count:
        raise ValueError(f"{path}: size mismatch ({len(data)} bytes, expected {offset + count})")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load_split(kind):
    images = read_idx(os.path.join(DATA_DIR, f"{kind}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{kind}-labels-idx1-ubyte.gz"))
    assert images.shape[0] == labels.shape[0] and images.shape[1:] == (28, 28)
    return images, labels.astype(np.int64)


def normalize(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], (x/255 - MEAN)/STD."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x[:, None, :, :].astype(np.float32)


# ----------------------------------------------------------------------------- models

class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)   # 16x14x14
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)   # 32x7x7
        x = F.relu(self.bn3(self.conv3(x)))                    # 32x7x7
        x = F.adaptive_avg_pool2d(x, 1)                        # GlobalAveragePool
        x = torch.flatten(x, 1)
        return self.fc(x)


class FashionMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


# ----------------------------------------------------------------------------- training

def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            logits = model(x[i:i + batch])
            correct += int((logits.argmax(1) == y[i:i + batch]).sum())
    return correct / x.shape[0]


def train(name, model, x_train, y_train, x_test, y_test, epochs, lr, batch_size, seed):
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = (x_train.shape[0] + batch_size - 1) // batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch)
    n = x_train.shape[0]
    for epoch in range(epochs):
        t0 = time.time()
        model.train()
        perm = torch.randperm(n, generator=gen)
        total_loss = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            xb, yb = x_train[idx], y_train[idx]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss) * xb.shape[0]
        acc = evaluate(model, x_test, y_test)
        print(f"[{name}] epoch {epoch + 1}/{epochs}: loss {total_loss / n:.4f}, "
              f"test acc {acc * 100:.2f}%, {time.time() - t0:.1f}s", flush=True)
    model.eval()
    return model


# ----------------------------------------------------------------------------- export

def export_onnx(model, path, keep_batchnorm=False):
    """Export an eval-mode model: opset 13, static shape [1,1,28,28] -> [1,10].

    With training=EVAL, torch 1.13's exporter always fuses Conv+BatchNormalization
    (its eval peephole pass), whatever do_constant_folding says. keep_batchnorm=True
    exports with training=PRESERVE instead: as the model is in eval mode, each
    BatchNorm becomes an inference-form BatchNormalization node (one output, the
    running statistics as initializers), numerically identical to the fused graph.
    """
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    mode = torch.onnx.TrainingMode.PRESERVE if keep_batchnorm else torch.onnx.TrainingMode.EVAL
    with warnings.catch_warnings():
        # torch warns about constant folding with PRESERVE even for eval-mode models.
        warnings.filterwarnings("ignore", message=".*constant folding be turned off.*")
        torch.onnx.export(
            model, dummy, path,
            input_names=["input"], output_names=["logits"],
            opset_version=OPSET,
            training=mode,
            dynamic_axes=None,  # static shapes, batch fixed to 1
        )


def check_onnx(path, model, x_check):
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = [node.op_type for node in m.graph.node]
    for node in m.graph.node:
        if node.op_type == "BatchNormalization":  # inference form: Y only
            assert len(node.output) == 1, node
    inp = m.graph.input[0]
    out = m.graph.output[0]
    shape_of = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]
    assert inp.name == "input" and shape_of(inp) == [1, 1, 28, 28], (inp.name, shape_of(inp))
    assert out.name == "logits" and shape_of(out) == [1, 10], (out.name, shape_of(out))
    print(f"[{os.path.basename(path)}] onnx.checker OK; opset "
          f"{[ (o.domain or 'ai.onnx', o.version) for o in m.opset_import]}; "
          f"{len(ops)} nodes: {' -> '.join(ops)}", flush=True)
    try:
        import onnxruntime as ort
    except ImportError:
        print(f"[{os.path.basename(path)}] onnxruntime not importable: runtime check skipped",
              flush=True)
        return ops
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    max_diff = 0.0
    agree = 0
    with torch.no_grad():
        for i in range(x_check.shape[0]):
            xi = x_check[i:i + 1]
            ref = model(xi).numpy()
            got = sess.run(["logits"], {"input": xi.numpy()})[0]
            max_diff = max(max_diff, float(np.abs(ref - got).max()))
            agree += int(ref.argmax() == got.argmax())
    print(f"[{os.path.basename(path)}] onnxruntime {ort.__version__} vs torch on "
          f"{x_check.shape[0]} samples: max |diff| {max_diff:.3g}, argmax agree "
          f"{agree}/{x_check.shape[0]}", flush=True)
    assert max_diff < 1e-3, max_diff
    return ops


# ----------------------------------------------------------------------------- main

def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(repo, "models"))
    ap.add_argument("--cnn-epochs", type=int, default=10)
    ap.add_argument("--mlp-epochs", type=int, default=8)
    args = ap.parse_args()

    t_start = time.time()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    seed_everything(SEED)
    print(f"python {sys.version.split()[0]} ({sys.executable}), torch {torch.__version__}, "
          f"numpy {np.__version__}", flush=True)

    train_u8, train_y = load_split("train")
    test_u8, test_y = load_split("t10k")
    x_train = torch.from_numpy(normalize(train_u8))
    y_train = torch.from_numpy(train_y)
    x_test = torch.from_numpy(normalize(test_u8))
    y_test = torch.from_numpy(test_y)
    print(f"data: train {tuple(x_train.shape)}, test {tuple(x_test.shape)} from {DATA_DIR}",
          flush=True)

    # Sample files: calibration from the training set, evaluation from the test set.
    rng = np.random.default_rng(SEED)
    calib_idx = np.sort(rng.choice(train_u8.shape[0], N_CALIB, replace=False))
    eval_idx = np.sort(rng.choice(test_u8.shape[0], N_EVAL, replace=False))
    calib_x = normalize(train_u8[calib_idx])
    eval_x = normalize(test_u8[eval_idx])
    eval_y = test_y[eval_idx].astype(np.int64)
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "fashion_calib_x.npy"), calib_x)
    np.save(os.path.join(args.out, "fashion_eval_x.npy"), eval_x)
    np.save(os.path.join(args.out, "fashion_eval_y.npy"), eval_y)
    eval_xt, eval_yt = torch.from_numpy(eval_x), torch.from_numpy(eval_y)

    specs = [
        ("fashion_cnn", FashionCNN, args.cnn_epochs, 3e-3, 128, SEED + 1),
        ("fashion_mlp", FashionMLP, args.mlp_epochs, 2e-3, 128, SEED + 2),
    ]
    summary = []
    for name, cls, epochs, lr, bs, seed in specs:
        t0 = time.time()
        seed_everything(seed)
        model = cls()
        train(name, model, x_train, y_train, x_test, y_test, epochs, lr, bs, seed)
        train_s = time.time() - t0
        acc_test = evaluate(model, x_test, y_test)
        acc_eval = evaluate(model, eval_xt, eval_yt)
        path = os.path.join(args.out, f"{name}.onnx")
        export_onnx(model, path)
        ops = check_onnx(path, model, eval_xt[:200])
        summary.append((name, acc_test, acc_eval, os.path.getsize(path), train_s, ops))
        if name == "fashion_cnn":
            path = os.path.join(args.out, f"{name}_bn.onnx")
            export_onnx(model, path, keep_batchnorm=True)
            ops = check_onnx(path, model, eval_xt[:200])
            summary.append((f"{name}_bn", acc_test, acc_eval, os.path.getsize(path), 0.0, ops))

    print("\nsummary:")
    for name, acc_test, acc_eval, size, train_s, ops in summary:
        print(f"  {name}: test acc {acc_test * 100:.2f}% (10000), eval acc {acc_eval * 100:.2f}% "
              f"({N_EVAL}), {size} bytes, trained in {train_s:.0f}s, ops {sorted(set(ops))}")
    for f in ("fashion_calib_x.npy", "fashion_eval_x.npy", "fashion_eval_y.npy"):
        print(f"  {f}: {os.path.getsize(os.path.join(args.out, f))} bytes")
    print(f"total {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()
