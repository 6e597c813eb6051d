#!/usr/bin/python3
"""Record a digest of the output bytes of every test model on every kernel tier.

Needs /usr/bin/python3 with numpy (python3-numpy) and a built `quanta` CLI.

Refactors of the runtime or the kernels must not change a single output byte
(docs/architecture.md, "Bit-exactness while restructuring"). This script
converts every convertible model of tests/data/zoo and models/ to int8 and to
fp32 with the `quanta` CLI, runs each on its evaluation samples with every
kernel tier this CPU supports (QUANTA_TIER) and with 1 and 2 threads, and
writes one line per (model, precision, tier, threads) with the SHA-256 of the
output bytes. Record before a change, record after it, and diff the two files
on the same machine:

    scripts/record_outputs.py --quanta build/quanta -o before.txt
    ... change, rebuild ...
    scripts/record_outputs.py --quanta build/quanta -o after.txt
    diff before.txt after.txt     # must print nothing

Calibration always runs on the reference tier, so the converted model's bytes
do not depend on which tiers the CPU has. fp32 outputs may differ between
tiers (another summation order); int8 outputs may not, and the script checks
that too: every tier and thread count must give the reference tier's bytes.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.path.join(ROOT, "tests", "data", "zoo")
TIERS = ["ref", "avx2", "avx512vnni"]


def run(cmd, env=None):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return p.stdout


def tier_env(tier):
    env = dict(os.environ)
    env["QUANTA_TIER"] = tier
    return env


def supported_tiers(quanta, model):
    out = []
    for t in TIERS:
        # Session::create refuses a tier the CPU lacks: one timed run tells.
        p = subprocess.run([quanta, "bench", "--runs", "1", "--warmup", "0", model],
                           env=tier_env(t), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode == 0:
            out.append(t)
    return out


def cases(tmp):
    """(name, onnx path, calib .npy, eval .npy) for every convertible model."""
    manifest = json.load(open(os.path.join(ZOO, "manifest.json")))
    data = manifest["data"]
    for m in manifest["models"]:
        if m["expect"] != "ok":
            continue
        d = data[m["data"]]
        calib = os.path.join(ZOO, d["calib"])
        ev = os.path.join(ZOO, d["eval"])
        if m["layout"] == "nhwc":
            for src in (calib, ev):
                a = np.load(src).transpose(0, 2, 3, 1)
                np.save(os.path.join(tmp, "nhwc_" + os.path.basename(src)), a)
            calib = os.path.join(tmp, "nhwc_" + os.path.basename(calib))
            ev = os.path.join(tmp, "nhwc_" + os.path.basename(ev))
        yield m["name"], os.path.join(ZOO, m["file"]), calib, ev
    models = os.path.join(ROOT, "models")
    ev = np.load(os.path.join(models, "fashion_eval_x.npy"))[:64]
    np.save(os.path.join(tmp, "fashion_eval64.npy"), ev)
    for name in ("fashion_mlp", "fashion_cnn", "fashion_cnn_bn"):
        yield (name, os.path.join(models, name + ".onnx"),
               os.path.join(models, "fashion_calib_x.npy"),
               os.path.join(tmp, "fashion_eval64.npy"))


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()[:32]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quanta", required=True, help="the quanta CLI binary")
    ap.add_argument("-o", "--output", required=True, help="record file to write")
    ap.add_argument("--only", default="", help="comma-separated model names (default: all)")
    args = ap.parse_args()
    quanta = os.path.abspath(args.quanta)
    only = set(filter(None, args.only.split(",")))
    lines, problems = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tiers = None
        for name, onnx, calib, ev in cases(tmp):
            if only and name not in only:
                continue
            for prec in ("int8", "fp32"):
                model = os.path.join(tmp, f"{name}_{prec}.quanta")
                cmd = [quanta, "convert", "-q", "--precision", prec, onnx, "-o", model]
                if prec == "int8":
                    cmd += ["--calib", calib, "--calib-limit", "16"]
                run(cmd, env=tier_env("ref"))
                lines.append(f"{name}\t{prec}\tmodel\t-\t{digest(model)}")
                if tiers is None:
                    tiers = supported_tiers(quanta, model)
                    print("tiers on this CPU:", ", ".join(tiers), file=sys.stderr)
                ref_digest = None
                for tier in tiers:
                    for threads in (1, 2):
                        out = os.path.join(tmp, "out.npy")
                        run([quanta, "run", model, "-i", ev, "-o", out,
                             "--intra-threads", str(threads)], env=tier_env(tier))
                        d = digest(out)
                        lines.append(f"{name}\t{prec}\t{tier}\t{threads}\t{d}")
                        if prec == "int8":
                            ref_digest = ref_digest or d
                            if d != ref_digest:
                                problems.append(f"{name} int8 {tier} {threads} threads differs "
                                                "from the reference tier")
            print(f"{name}: done", file=sys.stderr)
    with open(args.output, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(lines)} lines written to {args.output}", file=sys.stderr)
    for p in problems:
        print("MISMATCH:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
