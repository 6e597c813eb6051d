#!/usr/bin/python3
"""Convert every model of the test zoo (tests/data/zoo, made by scripts/make_test_models.py)
the way a new user would, and compare Quanta with ONNX Runtime.

    PYTHONPATH=build/pydeps /usr/bin/python3 tests/oracle/zoo_check.py [--quanta build/quanta]

Needs Debian's /usr/bin/python3 with numpy, and onnxruntime (with its quantization
tool, which also needs onnx >= 1.13, ml_dtypes and packaging) on PYTHONPATH.

For every model in tests/data/zoo/manifest.json:
  (a) fp32: `quanta convert --precision fp32`, then `quanta run` on the first
      --fp32-samples eval samples; FAIL unless max |quanta - ORT float| <= 1e-4 * the
      range of ORT's outputs on those samples. Over all eval samples, `quanta eval`
      with ORT's top-1 as labels must also agree with ORT (up to near-ties).
  (b) int8: `quanta convert --calib <calib.npy>` with --method mse (the default) and
      --method minmax; top-1 agreement with ORT's float model over all eval samples
      and SQNR of the outputs. Both come from one `quanta eval` run (fast): agreement
      is its accuracy against labels = ORT float argmax (exact); SQNR is measured
      against the quanta fp32 model, which (a) verifies equal to ORT float to 1e-4
      relative (the difference to SQNR against ORT is far below 0.01 dB).
      --exact runs `quanta run` per sample instead and measures SQNR against ORT's
      outputs directly (slower). Without a working `quanta eval`, --exact is used.
  (c) ORT int8: onnxruntime.quantization.quantize_static (QuantFormat.QDQ,
      per_channel=True, activations QUInt8, weights QInt8, MinMax calibration on the
      same calibration samples), run in ORT; same statistics against ORT float, twice:
      "ORT int8" runs the QDQ model as ORT normally does (QDQ fused into int8 kernels),
      "ORT QDQ" with graph optimizations off (Q/DQ pairs evaluated in float: ORT's
      quantization recipe without its kernels). On x86 CPUs without VNNI, ORT's u8s8
      kernels can saturate int16 intermediates, so "ORT int8" may be far below
      "ORT QDQ"; the gate therefore uses the better of the two.
      A model below opset 13 is first converted to opset 13 with onnx.version_converter
      (per-channel QDQ needs it); a note says so.
  Dynamic-batch models (variant "dynbatch") are also converted in fp32 with
  --input-shape for a batch of 4 and checked against ORT on 4 samples at once.
  Models whose manifest entry says {"expect": {"error": [...]}} must be refused by
  `quanta convert` (exit status 1, every listed substring in the message), not crash.

Prints a table and every failure with the converter's message or the numbers.
Exit status: 0 when every fp32 check passes, every expected error is clean, and every
Quanta int8 SQNR (mse and minmax) is >= max(ORT int8, ORT QDQ) SQNR - 3 dB (--margin);
1 otherwise;
77 (skipped) when onnxruntime or its quantization tool cannot be imported.
"""

import argparse
import concurrent.futures as cf
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

try:
    import onnxruntime as ort
except ImportError:
    print("SKIPPED: onnxruntime is not installed (pip install onnxruntime)")
    sys.exit(77)
try:
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
except ImportError as e:
    print(f"SKIPPED: onnxruntime.quantization cannot be imported ({e}); it needs onnx >= 1.13, "
          "ml_dtypes and packaging next to onnxruntime (pip install onnxruntime onnx ml_dtypes packaging)")
    sys.exit(77)

ort.set_default_logger_severity(3)
logging.getLogger().setLevel(logging.ERROR)  # quantize_static's advice and per-tensor warnings


# ----------------------------------------------------------------------------- helpers

def sqnr_db(ref, got):
    ref = np.asarray(ref, np.float64)
    err = np.asarray(got, np.float64) - ref
    p_sig, p_err = float(np.sum(ref * ref)), float(np.sum(err * err))
    if p_err == 0.0:
        return float("inf")
    if p_sig == 0.0:
        return float("-inf")
    return 10.0 * np.log10(p_sig / p_err)


def top1(y):
    y = np.asarray(y)
    return y.reshape(y.shape[0], -1, y.shape[-1])[:, 0, :].argmax(axis=-1) if y.ndim > 2 else y.argmax(axis=-1)


def run_cmd(cmd, timeout=120):
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return -999, "", f"timed out after {timeout} s", time.time() - t0
    return p.returncode, p.stdout, p.stderr, time.time() - t0


def describe_rc(rc):
    if rc == -999:
        return "timeout"
    if rc < 0:
        return f"killed by signal {-rc} (crash)"
    return f"exit status {rc}"


def error_text(stderr, stdout=""):
    lines = [l for l in (stderr or "").splitlines() if l.strip()]
    errs = [l for l in lines if "error" in l.lower()]
    text = errs if errs else lines[-3:]
    if not text:
        text = [l for l in (stdout or "").splitlines() if l.strip()][-3:]
    return " | ".join(text) if text else "(no message)"


def ort_session(path_or_bytes, optimize=True):
    so = ort.SessionOptions()
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path_or_bytes, so, providers=["CPUExecutionProvider"])


def ort_outputs(sess, x):
    """Output 0 of sess for every sample of x (x: [N, ...], fed one by one as batch 1)."""
    name = sess.get_inputs()[0].name
    return np.stack([sess.run(None, {name: x[i:i + 1]})[0][0] for i in range(x.shape[0])])


class Reader(CalibrationDataReader):
    def __init__(self, name, x):
        self.items = iter([{name: x[i:i + 1]} for i in range(x.shape[0])])

    def get_next(self):
        return next(self.items, None)


# ----------------------------------------------------------------------------- one model

def check_model(entry, cfg):
    name = entry["name"]
    onnx_path = os.path.join(cfg.zoo, entry["file"])
    work = os.path.join(cfg.tmp, name)
    os.makedirs(work, exist_ok=True)
    data = cfg.data[(entry["data"], entry["layout"])]
    x_eval, x_calib = data["eval"], data["calib"]
    res = {"name": name, "family": entry["family"], "opset": entry["opset"], "variant": entry["variant"],
           "failures": [], "notes": [], "times": {}}
    Q = cfg.quanta

    def fail(msg):
        res["failures"].append(msg)

    # ---- expected refusal
    expect = entry.get("expect", "ok")
    if isinstance(expect, dict) and "error" in expect:
        res["kind"] = "expect-error"
        for prec in ("fp32", "int8"):
            cmd = [Q, "convert", onnx_path, "-o", os.path.join(work, f"{prec}.quanta"), "--precision", prec, "-q"]
            if prec == "int8":
                cmd += ["--calib", data["calib_file"]]
            rc, out, err, _ = run_cmd(cmd)
            msg = error_text(err, out)
            res.setdefault("messages", []).append(msg)
            if rc == 0:
                fail(f"{prec} convert: expected a refusal containing {expect['error']}, but it succeeded")
            elif rc != 1:
                fail(f"{prec} convert: {describe_rc(rc)} instead of a clean error: {msg}")
            else:
                missing = [s for s in expect["error"] if s.lower() not in msg.lower()]
                if missing:
                    fail(f"{prec} convert: error message lacks {missing}: {msg}")
        return res
    res["kind"] = "model"

    # ---- ORT float reference on all eval samples
    t0 = time.time()
    try:
        sess = ort_session(onnx_path)
        y_ref = ort_outputs(sess, x_eval)
    except Exception as e:  # noqa: BLE001
        fail(f"ORT cannot run the float model: {e}")
        return res
    res["times"]["ort_float"] = time.time() - t0
    labels = top1(y_ref).astype(np.int64)
    labels_file = os.path.join(work, "ort_labels.npy")
    np.save(labels_file, labels)
    yr = y_ref.reshape(y_ref.shape[0], -1)
    srt = np.sort(yr, axis=1)
    margin = srt[:, -1] - srt[:, -2] if yr.shape[1] > 1 else np.full(yr.shape[0], np.inf)
    out_range = float(y_ref.max() - y_ref.min()) or 1.0

    # ---- (a) fp32
    fp32 = os.path.join(work, "fp32.quanta")
    rc, out, err, dt = run_cmd([Q, "convert", onnx_path, "-o", fp32, "--precision", "fp32", "-q"])
    res["times"]["convert_fp32"] = dt
    res["fp32_ok"] = False
    if rc != 0:
        fail(f"fp32 convert: {describe_rc(rc)}: {error_text(err, out)}")
        fp32 = None
    else:
        n = min(cfg.fp32_samples, x_eval.shape[0])
        ys = run_samples(Q, fp32, data["sample_files"][:n], work, "fp32", res)
        if ys is not None:
            ref = y_ref[:n]
            rng = float(ref.max() - ref.min()) or 1.0
            if ys.shape != ref.shape:
                fail(f"fp32: output shape {list(ys.shape[1:])} != ONNX output shape {list(ref.shape[1:])}")
            else:
                e = float(np.abs(ys - ref).max())
                res["fp32_err"] = e
                res["fp32_rel"] = e / rng
                if not np.isfinite(e) or e > 1e-4 * rng:
                    i, j = np.unravel_index(int(np.nanargmax(np.abs(ys - ref))), ys.shape)[:2]
                    fail(f"fp32 mismatch: max |quanta - ORT| = {e:.4g} > 1e-4 * range {rng:.4g} "
                         f"(sample {i}, first values quanta {np.round(ys[i].ravel()[:4], 5).tolist()} "
                         f"vs ORT {np.round(ref[i].ravel()[:4], 5).tolist()})")
                else:
                    res["fp32_ok"] = True

    # ---- (b) int8 conversions
    int8 = {}
    for method in ("mse", "minmax"):
        path = os.path.join(work, f"int8_{method}.quanta")
        cmd = [Q, "convert", onnx_path, "-o", path, "--calib", data["calib_file"], "--method", method, "-q"]
        rc, out, err, dt = run_cmd(cmd)
        res["times"][f"convert_{method}"] = dt
        if rc != 0:
            fail(f"int8 ({method}) convert: {describe_rc(rc)}: {error_text(err, out)}")
        else:
            int8[method] = path

    if int8:
        measured = None
        if fp32 and res["fp32_ok"] and cfg.use_eval and not cfg.exact:
            measured = eval_path(Q, fp32, int8, data["eval_file"], labels_file, margin, out_range, res)
        if measured is None:
            measured = exact_path(Q, int8, data["sample_files"], y_ref, labels, work, res)
        for method, (agree, sq) in measured.items():
            res[f"q_{method}"] = (agree, sq)

    # ---- (c) ORT quantize_static
    t0 = time.time()
    try:
        res["ort"], res["ort_qdq"] = ort_int8(onnx_path, entry, x_calib, x_eval, y_ref, labels, work, res)
    except Exception as e:  # noqa: BLE001
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        res["notes"].append(f"ORT quantize_static failed: {msg[:200]}")
        res["ort"] = res["ort_qdq"] = None
    res["times"]["ort_int8"] = time.time() - t0

    # ---- dynamic batch: a batch of 4 in one run
    if entry.get("variant") == "dynbatch" and fp32:
        dyn_batch_check(Q, onnx_path, entry, sess, x_eval, work, res)

    # ---- gate
    if res.get("ort"):
        o_sq = max(res["ort"][1], res["ort_qdq"][1])
        for method in ("mse", "minmax"):
            if f"q_{method}" in res:
                q_sq = res[f"q_{method}"][1]
                m = q_sq - (o_sq - cfg.margin)
                res[f"margin_{method}"] = m
                if not (m >= 0):
                    fail(f"int8 ({method}) SQNR {q_sq:.2f} dB < ORT SQNR {o_sq:.2f} dB - {cfg.margin:g} dB "
                         f"(short by {-m:.2f} dB; top-1 agreement quanta {res[f'q_{method}'][0]*100:.1f}% "
                         f"vs ORT {res['ort'][0]*100:.1f}% / QDQ {res['ort_qdq'][0]*100:.1f}%)")
    return res


def dyn_batch_check(Q, onnx_path, entry, sess, x_eval, work, res, batch=4):
    shape = [batch] + list(entry["input_shape"][1:])
    path = os.path.join(work, f"fp32_b{batch}.quanta")
    spec = f"{entry['input']}={','.join(map(str, shape))}"
    rc, out, err, _ = run_cmd([Q, "convert", onnx_path, "-o", path, "--precision", "fp32",
                               "--input-shape", spec, "-q"])
    if rc != 0:
        res["failures"].append(f"fp32 convert with --input-shape {spec}: {describe_rc(rc)}: {error_text(err, out)}")
        return
    x = np.ascontiguousarray(x_eval[:batch])
    xf, yf = os.path.join(work, f"x_b{batch}.npy"), os.path.join(work, f"y_b{batch}.npy")
    np.save(xf, x)
    rc, out, err, _ = run_cmd([Q, "run", path, "--input", xf, "--output", yf])
    if rc != 0:
        res["failures"].append(f"fp32 run at batch {batch}: {describe_rc(rc)}: {error_text(err, out)}")
        return
    y = np.load(yf)
    ref = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    rng = float(ref.max() - ref.min()) or 1.0
    if y.shape != ref.shape:
        res["failures"].append(f"fp32 at batch {batch}: output shape {list(y.shape)} != ORT {list(ref.shape)}")
        return
    e = float(np.abs(y - ref).max())
    res["batch_err"] = e / rng
    if not e <= 1e-4 * rng:
        rows = [float(np.abs(y[i] - ref[i]).max()) for i in range(batch)]
        res["failures"].append(f"fp32 at batch {batch}: max |quanta - ORT| = {e:.4g} > 1e-4 * range {rng:.4g} "
                               f"(per sample max err {[f'{r:.3g}' for r in rows]})")
    else:
        res["notes"].append(f"batch {batch} via --input-shape {spec}: max rel err {e / rng:.1e}")


def run_samples(Q, model, sample_files, work, tag, res):
    outs = []
    for i, f in enumerate(sample_files):
        o = os.path.join(work, f"{tag}_out{i}.npy")
        rc, out, err, _ = run_cmd([Q, "run", model, "--input", f, "--output", o])
        if rc != 0:
            res["failures"].append(f"{tag} run (sample {i}): {describe_rc(rc)}: {error_text(err, out)}")
            return None
        y = np.load(o)
        outs.append(y[0] if y.shape[0] == 1 else y)
    return np.stack(outs)


def eval_path(Q, fp32, int8, eval_file, labels_file, margin, out_range, res):
    """quanta eval fp32 int8... with ORT top-1 as labels; None if eval is unusable."""
    methods = list(int8)
    rc, out, err, dt = run_cmd([Q, "eval", fp32] + [int8[m] for m in methods] +
                               ["--data", eval_file, "--labels", labels_file, "--json"], timeout=300)
    res["times"]["eval"] = dt
    if rc != 0:
        res["notes"].append(f"quanta eval failed ({describe_rc(rc)}: {error_text(err, out)}); used quanta run")
        return None
    try:
        j = json.loads(out)
        models = j["models"]
        fp32_acc = models[0]["top1_accuracy"]
        got = {}
        for m, mj in zip(methods, models[1:]):
            got[m] = (float(mj["top1_accuracy"]), float(mj["outputs"][0]["sqnr_db"]))
    except (ValueError, KeyError, TypeError, IndexError) as e:
        res["notes"].append(f"quanta eval output not understood ({e}); used quanta run")
        return None
    res["fp32_agree"] = fp32_acc
    if fp32_acc < 1.0:
        # a near-tie (top-2 within 1e-5 of the range) may flip in float; anything else is a bug
        n_bad = int(round((1.0 - fp32_acc) * len(margin)))
        n_ties = int(np.sum(margin < 1e-5 * out_range))
        if n_bad > n_ties:
            res["failures"].append(f"fp32 top-1 differs from ORT on {n_bad} of {len(margin)} eval samples "
                                   f"(only {n_ties} are near-ties)")
    return got


def exact_path(Q, int8, sample_files, y_ref, labels, work, res):
    got = {}
    for m, path in int8.items():
        ys = run_samples(Q, path, sample_files, work, f"int8_{m}", res)
        if ys is None or ys.shape != y_ref.shape:
            if ys is not None:
                res["failures"].append(f"int8 ({m}): output shape {list(ys.shape[1:])} != {list(y_ref.shape[1:])}")
            continue
        got[m] = (float(np.mean(top1(ys) == labels)), sqnr_db(y_ref, ys))
    return got


def ort_int8(onnx_path, entry, x_calib, x_eval, y_ref, labels, work, res):
    model = onnx.load(onnx_path)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 13:
        model = version_converter.convert_version(model, 13)
        res["notes"].append(f"ORT int8 quantized from the opset-{opset} model converted to opset 13")
    src = os.path.join(work, "ort_float.onnx")
    onnx.save(model, src)
    dst = os.path.join(work, "ort_int8.onnx")
    quantize_static(src, dst, Reader(entry["input"], x_calib),
                    quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    stats = []
    for optimize in (True, False):
        y = ort_outputs(ort_session(dst, optimize), x_eval)
        stats.append((float(np.mean(top1(y) == labels)), sqnr_db(y_ref, y)))
    return stats


# ----------------------------------------------------------------------------- data

def prepare_data(manifest, zoo, tmp):
    """Float32 copies of the uint8 sample files, in each model's input layout, plus one
    file per eval sample (the exact path runs each sample on its own, as ONNX Runtime does)."""
    out = {}
    for m in manifest["models"]:
        key = (m["data"], m["layout"])
        if key in out:
            continue
        d = manifest["data"][m["data"]]
        arrs = {}
        for split in ("calib", "eval"):
            a = np.load(os.path.join(zoo, d[split])).astype(np.float32)
            if m["layout"] == "nhwc":
                a = np.ascontiguousarray(a.transpose(0, 2, 3, 1))
            arrs[split] = a
        base = os.path.join(tmp, f"data_{m['data']}_{m['layout']}")
        os.makedirs(base, exist_ok=True)
        calib_file = os.path.join(base, "calib.npy")
        eval_file = os.path.join(base, "eval.npy")
        np.save(calib_file, arrs["calib"])
        np.save(eval_file, arrs["eval"])
        samples = []
        for i in range(arrs["eval"].shape[0]):
            f = os.path.join(base, f"x{i}.npy")
            np.save(f, arrs["eval"][i:i + 1])
            samples.append(f)
        out[key] = {"calib": arrs["calib"], "eval": arrs["eval"], "calib_file": calib_file,
                    "eval_file": eval_file, "sample_files": samples}
    return out


# ----------------------------------------------------------------------------- report

def fmt_pair(p):
    if p is None:
        return "-"
    a, s = p
    return f"{a*100:5.1f}% / {s:5.1f}"


def print_table(results, cfg):
    rows = []
    hdr = ["model", "opset", "fp32 max err (rel)", "quanta mse agr/SQNR", "quanta minmax agr/SQNR",
           "ORT int8 agr/SQNR", "ORT QDQ agr/SQNR", "margin mse/minmax", "status"]
    for r in results:
        if r["kind"] == "expect-error":
            rows.append([r["name"], str(r["opset"]), "refused as expected" if not r["failures"] else "-",
                         "-", "-", "-", "-", "-", "ok" if not r["failures"] else "FAIL"])
            continue
        fe = f"{r['fp32_err']:.2e} ({r['fp32_rel']:.1e})" if "fp32_err" in r else "-"
        mg = "/".join(f"{r[k]:+.1f}" if k in r else "-" for k in ("margin_mse", "margin_minmax"))
        rows.append([r["name"], str(r["opset"]), fe, fmt_pair(r.get("q_mse")), fmt_pair(r.get("q_minmax")),
                     fmt_pair(r.get("ort")), fmt_pair(r.get("ort_qdq")), mg,
                     "ok" if not r["failures"] else "FAIL"])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(hdr)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    print(line(hdr))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    print(f"(agreement: top-1 agreement with ORT's float model over the eval samples; SQNR in dB "
          f"over all eval outputs; margin: quanta SQNR - (max(ORT int8, ORT QDQ) SQNR - {cfg.margin:g} dB), "
          f"must be >= 0)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quanta", default=os.environ.get("QUANTA", os.path.join(ROOT, "build", "quanta")),
                    help="the quanta binary (default: $QUANTA or build/quanta)")
    ap.add_argument("--zoo", default=os.path.join(ROOT, "tests", "data", "zoo"))
    ap.add_argument("--only", action="append", default=[], help="only models whose name contains this (repeatable)")
    ap.add_argument("--fp32-samples", type=int, default=4, help="eval samples for the fp32 check (quanta run each)")
    ap.add_argument("--margin", type=float, default=3.0, help="allowed dB below ORT's int8 SQNR")
    ap.add_argument("--exact", action="store_true", help="quanta run per sample instead of quanta eval")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", metavar="DIR", help="keep the converted models and data in DIR")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    cfg = ap.parse_args()
    if not (os.path.isfile(cfg.quanta) and os.access(cfg.quanta, os.X_OK)):
        print(f"zoo_check: no quanta binary at {cfg.quanta} (build it, or pass --quanta)", file=sys.stderr)
        return 1
    with open(os.path.join(cfg.zoo, "manifest.json")) as f:
        manifest = json.load(f)
    models = [m for m in manifest["models"] if not cfg.only or any(s in m["name"] for s in cfg.only)]
    rc, out, _, _ = run_cmd([cfg.quanta, "eval", "--help"])
    cfg.use_eval = rc == 0 and "--labels" in out
    t_start = time.time()
    cfg.tmp = cfg.keep or tempfile.mkdtemp(prefix="zoo_check_")
    os.makedirs(cfg.tmp, exist_ok=True)
    try:
        cfg.data = prepare_data({"models": models, "data": manifest["data"]}, cfg.zoo, cfg.tmp)
        print(f"zoo_check: {len(models)} models from {cfg.zoo}; quanta {cfg.quanta}; onnxruntime "
              f"{ort.__version__}; int8 measured with {'quanta eval' if cfg.use_eval and not cfg.exact else 'quanta run per sample'}",
              flush=True)
        with cf.ThreadPoolExecutor(max_workers=max(1, cfg.jobs)) as pool:
            futs = [pool.submit(check_model, m, cfg) for m in models]
            results = []
            for m, fut in zip(models, futs):
                try:
                    results.append(fut.result())
                except Exception as e:  # noqa: BLE001  a bug here must not hide the others
                    results.append({"name": m["name"], "opset": m["opset"], "kind": "model",
                                    "failures": [f"zoo_check internal error: {type(e).__name__}: {e}"],
                                    "notes": [], "times": {}})
    finally:
        if not cfg.keep:
            shutil.rmtree(cfg.tmp, ignore_errors=True)
    elapsed = time.time() - t_start

    print()
    print_table(results, cfg)
    converted = [r["name"] for r in results for n in r.get("notes", []) if n.startswith("ORT int8 quantized from")]
    notes = [(r["name"], n) for r in results for n in r.get("notes", []) if not n.startswith("ORT int8 quantized from")]
    if converted:
        notes.insert(0, ("ORT", "quantized opset-13 copies (onnx.version_converter) of " + ", ".join(converted)))
    if notes:
        print("\nnotes:")
        for name, n in notes:
            print(f"  {name}: {n}")
    refusals = [(r["name"], m) for r in results if r["kind"] == "expect-error" and not r["failures"]
                for m in r.get("messages", [])[:1]]
    if refusals:
        print("\nexpected refusals (message):")
        for name, m in refusals:
            print(f"  {name}: {m}")
    failures = [(r["name"], f) for r in results for f in r["failures"]]
    if failures:
        print(f"\nFAILURES ({len(failures)} in {len({n for n, _ in failures})} models):")
        for name, f in failures:
            print(f"  {name}: {f}")
    margins = [r[k] for r in results for k in ("margin_mse", "margin_minmax") if k in r]
    n_ok = sum(1 for r in results if not r["failures"])
    print(f"\n{n_ok} passed, {len(results) - n_ok} failed")
    if margins:
        print(f"worst int8 SQNR margin against ORT - {cfg.margin:g} dB: {min(margins):+.2f} dB")
    print(f"zoo_check: {elapsed:.1f} s")
    if cfg.json:
        with open(cfg.json, "w") as f:
            json.dump(results, f, indent=1, default=float)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
