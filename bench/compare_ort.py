#!/usr/bin/python3
"""Whole-model latency: Quanta int8 against ONNX Runtime int8 (and float) on the tiny models.

    PYTHONPATH=build/pydeps /usr/bin/python3 bench/compare_ort.py [--quanta BIN]
        [--runs N] [--warmup W] [--only NAME ...] [--json FILE] [--work DIR]

Needs numpy and onnxruntime (with its quantization dependencies, e.g. onnx >= 1.14);
exits 77 with "SKIPPED: onnxruntime is not installed" when onnxruntime cannot be
imported. The models come from scripts/make_tiny_models.py (all in build/tiny/;
run that script first, WITHOUT the
onnxruntime PYTHONPATH, if they are missing: missing models are reported and skipped).

For every model <name>.onnx with its <name>_calib.npy:
  1. `quanta convert <name>.onnx -o WORK/<name>_int8.quanta --calib <name>_calib.npy`
     (default method, per-channel weights). A failure is reported with the tool's exact
     message and the model's Quanta columns are left empty.
  2. ONNX Runtime `quantize_static` on the same calibration samples (one sample per
     calibration batch): QDQ format, per-channel, QUInt8 activations, QInt8 weights,
     MinMax calibration, after `quant_pre_process` (shape inference + optimization;
     skipped with a note if it fails).
  3. Latency. ONNX Runtime: an InferenceSession (CPU provider, ORT_ENABLE_ALL graph
     optimizations, ORT_SEQUENTIAL execution, inter_op 1) with intra_op_num_threads
     1 and 2, on the int8 QDQ model and on the float model; W untimed runs, then N runs
     each timed on its own with time.perf_counter_ns around session.run (the Python
     call overhead, a few microseconds, is included). Quanta: `quanta bench MODEL
     --json --warmup W --runs N --intra-threads T` for T = 1 and 2 (latency_us.p50 /
     .min, std::chrono::steady_clock around Session::run; small ops stay on the
     calling thread, large ones are split).
  4. MACs from `quanta inspect --json` (total_macs of the int8 model).
  5. Sanity (--check N, default 8): both int8 models' outputs on the first N calibration
     samples (Quanta through `quanta run`) against ORT float: SQNR in dB (and top-1
     agreement in the JSON); the ORT int8 model also with graph optimizations disabled
     (ONNX QDQ reference semantics, no fused int8 kernels). The models are untrained, so their softmax outputs are
     nearly flat; the SQNR shows a broken conversion, not accuracy.

Prints a table (latencies in microseconds, p50 with the min in parentheses) and the
machine (CPU model name, core count, avx2 / avx512f / avx512_vnni / avx_vnni flags).
ratio = ORT int8 p50 / Quanta int8 p50: > 1 means Quanta is faster. It is a
measurement, not a test: exit 0 after printing, whatever the numbers or conversion
failures (exit 1 only if the quanta binary cannot be found, 2 for usage errors).
"""
import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MODEL_DIRS = [os.path.join(ROOT, "models", "tiny"), os.path.join(ROOT, "build", "tiny")]
MODELS = ["resnet8", "dscnn", "mobilenet", "autoenc"]


def find_quanta(arg):
    cands = [arg] if arg else [os.environ.get("QUANTA", ""), os.path.join(ROOT, "build", "quanta"),
                               shutil.which("quanta") or ""]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def machine():
    name, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name in ("unknown", platform.processor()):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = {k: (k in flags) for k in ("avx2", "avx512f", "avx512_vnni", "avx_vnni")}
    return {"cpu": name, "cores": os.cpu_count(), "flags": isa}


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


def error_text(rc, out, err):
    lines = [l for l in (err.strip().splitlines() or out.strip().splitlines())]
    msg = "\n".join(l for l in lines if "error" in l.lower()) or "\n".join(lines[-3:])
    return f"exit {rc}: {msg}"


def find_model(name):
    for d in MODEL_DIRS:
        onnx_path = os.path.join(d, name + ".onnx")
        if os.path.isfile(onnx_path):
            return onnx_path, os.path.join(d, name + "_calib.npy")
    return None, None


def ort_latency(ort, path, feed, threads, warmup, runs):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        sess.run(None, feed)
    t = np.empty(runs, np.int64)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        sess.run(None, feed)
        t[i] = time.perf_counter_ns() - t0
    us = t / 1000.0
    return {"p50": float(np.percentile(us, 50)), "min": float(us.min()), "mean": float(us.mean())}


def ort_quantize(ort, qmod, fp32_path, calib, input_name, out_path, notes):
    src = fp32_path
    try:
        from onnxruntime.quantization.shape_inference import quant_pre_process
        pre = out_path.replace("_ort_int8.onnx", "_ort_pre.onnx")
        quant_pre_process(fp32_path, pre, skip_symbolic_shape=True)
        src = pre
    except Exception as e:  # pre-processing is recommended, not required
        notes.append(f"quant_pre_process failed ({type(e).__name__}: {e}); quantized the raw model")

    class Reader(qmod.CalibrationDataReader):
        def __init__(self):
            self.it = iter([{input_name: calib[i:i + 1]} for i in range(len(calib))])

        def get_next(self):
            return next(self.it, None)

    # the quantizer logs its warnings on the root logger: keep them as notes
    class Keep(logging.Handler):
        def emit(self, record):
            notes.append("ORT quantize_static: " + record.getMessage())

    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [Keep(logging.WARNING)]
    try:
        qmod.quantize_static(src, out_path, Reader(), quant_format=qmod.QuantFormat.QDQ,
                             per_channel=True, activation_type=qmod.QuantType.QUInt8,
                             weight_type=qmod.QuantType.QInt8,
                             calibrate_method=qmod.CalibrationMethod.MinMax)
    finally:
        root.handlers = saved


def bench_model(name, args, ort, qmod, quanta, work):
    r = {"model": name, "notes": []}
    onnx_path, calib_path = find_model(name)
    if onnx_path is None or not os.path.isfile(calib_path):
        r["skipped"] = (f"{name}.onnx / {name}_calib.npy not found in {', '.join(MODEL_DIRS)}; "
                        "run /usr/bin/python3 scripts/make_tiny_models.py (without the onnxruntime PYTHONPATH)")
        return r
    r["onnx"] = onnx_path
    calib = np.load(calib_path).astype(np.float32)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    input_name = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"]).get_inputs()[0].name
    feed = {input_name: calib[:1]}

    # 1. Quanta int8
    qpath = os.path.join(work, name + "_int8.quanta")
    t0 = time.time()
    rc, out, err = run([quanta, "convert", onnx_path, "-o", qpath, "--calib", calib_path, "--json", "-q"])
    r["quanta_convert_s"] = round(time.time() - t0, 2)
    if rc != 0:
        r["quanta_error"] = error_text(rc, out, err)
    else:
        try:
            warns = json.loads(out).get("warnings") or []
            if warns:
                r["notes"].append("quanta convert warnings: " + "; ".join(map(str, warns)))
        except ValueError:
            pass
        rc, out, err = run([quanta, "inspect", qpath, "--json"])
        if rc == 0:
            info = json.loads(out)
            r["macs"] = info.get("total_macs")
            r["quanta_bytes"] = info.get("file_size")
            if info.get("session_error"):
                r["quanta_error"] = "inspect: no session: " + info["session_error"]
        else:
            r["quanta_error"] = "inspect " + error_text(rc, out, err)
        if "quanta_error" not in r:
            for t in (1, 2):
                rc, out, err = run([quanta, "bench", qpath, "--json", "--warmup", str(args.warmup),
                                    "--runs", str(args.runs), "--intra-threads", str(t)])
                if rc == 0:
                    lat = json.loads(out)["latency_us"]
                    r[f"quanta_int8_{t}t"] = {"p50": lat["p50"], "min": lat["min"], "mean": lat["mean"]}
                else:
                    r["quanta_error"] = "bench " + error_text(rc, out, err)
                    break

    # 2. ORT int8 (QDQ)
    opath = os.path.join(work, name + "_ort_int8.onnx")
    try:
        ort_quantize(ort, qmod, onnx_path, calib, input_name, opath, r["notes"])
        r["ort_int8_bytes"] = os.path.getsize(opath)
        for t in (1, 2):
            r[f"ort_int8_{t}t"] = ort_latency(ort, opath, feed, t, args.warmup, args.runs)
    except Exception as e:
        r["ort_error"] = f"{type(e).__name__}: {e}"

    # 3. ORT float, for reference
    try:
        r["ort_fp32_1t"] = ort_latency(ort, onnx_path, feed, 1, args.warmup, args.runs)
    except Exception as e:
        r["ort_fp32_error"] = f"{type(e).__name__}: {e}"

    # 4. sanity: outputs of both int8 models against ORT float on the first --check samples
    if args.check > 0 and "ort_fp32_error" not in r:
        try:
            r.update(accuracy(ort, onnx_path, opath if "ort_error" not in r else None,
                              qpath if "quanta_int8_1t" in r else None, quanta, calib[:args.check],
                              input_name, work, name))
        except Exception as e:
            r["notes"].append(f"accuracy check failed: {type(e).__name__}: {e}")
    return r


def sqnr_db(ref, x):
    noise = float(np.sum((x - ref) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(float(np.sum(ref ** 2)) / noise)


def accuracy(ort, fp32_path, ort_int8_path, quanta_path, quanta, samples, input_name, work, name):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    ref_sess = ort.InferenceSession(fp32_path, so, providers=["CPUExecutionProvider"])
    ref = np.concatenate([ref_sess.run(None, {input_name: samples[i:i + 1]})[0]
                          for i in range(len(samples))])
    res = {}
    outs = {}
    if ort_int8_path:
        s8 = ort.InferenceSession(ort_int8_path, so, providers=["CPUExecutionProvider"])
        outs["ort_int8"] = np.concatenate([s8.run(None, {input_name: samples[i:i + 1]})[0]
                                           for i in range(len(samples))])
        # the same QDQ model without graph optimizations: ONNX's reference semantics
        # (dequantize, float op, quantize), no fused int8 kernels
        so_ref = ort.SessionOptions()
        so_ref.log_severity_level = 3
        so_ref.intra_op_num_threads = 1
        so_ref.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        s8r = ort.InferenceSession(ort_int8_path, so_ref, providers=["CPUExecutionProvider"])
        outs["ort_int8_noopt"] = np.concatenate([s8r.run(None, {input_name: samples[i:i + 1]})[0]
                                                 for i in range(len(samples))])
    if quanta_path:
        got = []
        for i in range(len(samples)):
            xin = os.path.join(work, f"{name}_x{i}.npy")
            yout = os.path.join(work, f"{name}_y{i}.npy")
            np.save(xin, samples[i:i + 1])
            rc, out, err = run([quanta, "run", quanta_path, "-i", xin, "-o", yout])
            if rc != 0:
                raise RuntimeError("quanta run " + error_text(rc, out, err))
            got.append(np.load(yout).reshape(ref[:1].shape))
        outs["quanta_int8"] = np.concatenate(got)
    for k, y in outs.items():
        res[k + "_sqnr_db"] = round(sqnr_db(ref, y), 1)
        if ref.ndim == 2 and ref.shape[1] > 1 and ref.shape[1] <= 100:
            res[k + "_top1_agree"] = float(np.mean(ref.argmax(1) == y.argmax(1)))
    return res


def fmt(d):
    return f"{d['p50']:.0f} ({d['min']:.0f})" if d else "-"


def print_table(results, mach, ort_version, quanta_version, args, elapsed):
    print()
    print(f"machine: {mach['cpu']}, {mach['cores']} logical cores; "
          + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in mach["flags"].items()))
    print(f"onnxruntime {ort_version}; {quanta_version}; runs {args.runs}, warm-up {args.warmup}")
    print("latency in microseconds: p50 (min), one inference at a time with 1 or 2 intra-op threads.")
    print("ratio = ORT int8 p50 / Quanta int8 p50 at the same thread count (> 1: Quanta faster)")
    if args.check > 0:
        print(f"SQNR: each int8 model's output against ORT float on {args.check} calibration samples;")
        print("ORT-noopt: the ORT int8 model with graph optimizations off (QDQ reference semantics,")
        print("no fused int8 kernels; a gap to the ORT figure means ORT's fused kernels lose accuracy)")
    print()
    hdr = ["model", "MACs", "ORT int8 1t", "Quanta int8 1t", "ratio 1t", "ORT int8 2t",
           "Quanta int8 2t", "ratio 2t", "ORT fp32 1t", "SQNR dB ORT / ORT-noopt / Quanta"]
    rows = []
    for r in results:
        if "skipped" in r:
            rows.append([r["model"], "skipped"] + [""] * 8)
            continue
        q1, q2 = r.get("quanta_int8_1t"), r.get("quanta_int8_2t")
        o1, o2 = r.get("ort_int8_1t"), r.get("ort_int8_2t")
        ratio = lambda o, q: f"{o['p50'] / q['p50']:.2f}" if (o and q) else "-"
        qcell = lambda q: fmt(q) if q else "FAILED" if "quanta_error" in r else "-"
        rows.append([r["model"], f"{r['macs']:,}" if r.get("macs") else "-",
                     fmt(o1), qcell(q1), ratio(o1, q1), fmt(o2), qcell(q2), ratio(o2, q2),
                     fmt(r.get("ort_fp32_1t")),
                     " / ".join(str(r.get(k + "_sqnr_db", "-"))
                                for k in ("ort_int8", "ort_int8_noopt", "quanta_int8"))])
    w = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).rjust(w[i]) if i else str(c).ljust(w[i])
                                          for i, c in enumerate(cells)) + " |"
    print(line(hdr))
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for row in rows:
        print(line(row))
    print()
    for r in results:
        for key, label in (("skipped", "skipped"), ("quanta_error", "Quanta error"),
                           ("ort_error", "ORT int8 error"), ("ort_fp32_error", "ORT fp32 error")):
            if key in r:
                print(f"{r['model']}: {label}: {r[key]}")
        for n in r.get("notes", []):
            print(f"{r['model']}: note: {n}")
    print(f"total time {elapsed:.1f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quanta", help="the quanta binary (default $QUANTA, build/quanta, then PATH)")
    ap.add_argument("--runs", type=int, default=200, help="timed runs per configuration (200)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed runs first (20)")
    ap.add_argument("--only", action="append", choices=MODELS, help="only this model (repeatable)")
    ap.add_argument("--check", type=int, default=8, metavar="N",
                    help="accuracy sanity: SQNR of both int8 models against ORT float on N "
                         "calibration samples (8; 0: off)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--work", metavar="DIR", help="keep the converted models here (default: a temp dir)")
    ap.add_argument("--models", metavar="DIR",
                    help="where make_tiny_models.py wrote the models (default: models/tiny, build/tiny)")
    args = ap.parse_args()
    if args.models:
        MODEL_DIRS[:] = [args.models]
    if args.runs < 1 or args.warmup < 0:
        ap.error("--runs must be >= 1 and --warmup >= 0")

    try:
        import onnxruntime as ort
        import onnxruntime.quantization as qmod
    except Exception as e:
        print(f"SKIPPED: onnxruntime is not installed ({type(e).__name__}: {e})")
        return 77
    quanta = find_quanta(args.quanta)
    if quanta is None:
        print("compare_ort.py: error: no quanta binary: pass --quanta or set QUANTA", file=sys.stderr)
        return 1
    rc, out, _ = run([quanta, "--version"])
    quanta_version = " ".join(out.split("\n")[0:1]) if rc == 0 else "quanta (version unknown)"

    start = time.time()
    mach = machine()
    tmp = None
    if args.work:
        os.makedirs(args.work, exist_ok=True)
        work = args.work
    else:
        tmp = tempfile.TemporaryDirectory(prefix="compare_ort_")
        work = tmp.name
    results = []
    for name in (args.only or MODELS):
        print(f"{name} ...", file=sys.stderr, flush=True)
        results.append(bench_model(name, args, ort, qmod, quanta, work))
    elapsed = time.time() - start
    print_table(results, mach, ort.__version__, quanta_version, args, elapsed)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": mach, "onnxruntime": ort.__version__, "quanta": quanta_version,
                       "quanta_binary": quanta, "runs": args.runs, "warmup": args.warmup,
                       "elapsed_s": round(elapsed, 1), "models": results}, f, indent=1)
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
