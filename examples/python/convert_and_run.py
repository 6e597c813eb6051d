#!/usr/bin/env python3
"""Convert a float ONNX classifier to int8 with Quanta, then measure it.

    python3 examples/python/convert_and_run.py models/fashion_cnn_bn.onnx \\
        models/fashion_calib_x.npy models/fashion_eval_x.npy models/fashion_eval_y.npy /tmp/quanta_out

Steps: quanta.convert() calibrates on the calibration samples and writes
OUT_DIR/<name>_int8.quanta; a Session then classifies every evaluation sample
(one inference per sample, through the session's own input and output memory,
so nothing is copied but the sample itself), and the script prints the top-1
accuracy and the median latency of one inference. Exits with status 1 when
the accuracy is below --min-accuracy.

Needs only an installed `quanta` package (docs/python.md) and numpy.
"""

import argparse
import os
import sys
import time

import numpy as np

import quanta


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("onnx", help="float ONNX model (e.g. fashion_cnn_bn.onnx)")
    p.add_argument("calib", help=".npy calibration samples, batched on the first axis")
    p.add_argument("eval_x", help=".npy evaluation samples, batched on the first axis")
    p.add_argument("eval_y", help=".npy integer class labels of eval_x")
    p.add_argument("out_dir", help="directory for the converted .quanta file (created if needed)")
    p.add_argument("--method", default="mse", choices=["mse", "minmax", "percentile"],
                   help="calibration method (default: mse)")
    p.add_argument("--threads", type=int, default=1, help="threads per inference (default: 1)")
    p.add_argument("--min-accuracy", type=float, default=0.8,
                   help="exit with status 1 below this top-1 accuracy (default: 0.8)")
    args = p.parse_args()

    os.makedirs(args.out_dir, exist_ok=True)
    name = os.path.splitext(os.path.basename(args.onnx))[0]
    out = os.path.join(args.out_dir, name + "_int8.quanta")
    try:
        summary = quanta.convert(args.onnx, out, calib=args.calib, method=args.method)
    except quanta.Error as e:
        print("conversion failed (%s): %s" % (e.code, e), file=sys.stderr)
        return 1
    print("quanta %s: wrote %s (%d bytes, %d runtime nodes, calibrated on %d samples, %s) in %.2f s"
          % (quanta.__version__, out, summary["output_bytes"], summary["runtime_nodes"],
             summary["calibration"]["samples"], summary["calibration"]["method"], summary["seconds"]))

    x = np.load(args.eval_x).astype(np.float32, copy=False)
    y = np.load(args.eval_y)
    session = quanta.Session(out, threads=args.threads)
    inp, outp = session.inputs[0], session.outputs[0]
    batch = inp.shape[0]
    if len(x) != len(y) or len(x) % batch:
        print("eval_x holds %d samples and eval_y %d labels; the model's batch is %d"
              % (len(x), len(y), batch), file=sys.stderr)
        return 1

    # Zero copy: the sample goes straight into the session's input memory and
    # the scores are read where the model left them.
    in_view = session.input_array(inp.name)
    out_view = session.output_array(outp.name)
    predictions = np.empty(len(x), dtype=np.int64)
    latencies = np.empty(len(x) // batch)
    for i in range(0, len(x), batch):
        np.copyto(in_view, x[i:i + batch].reshape(in_view.shape))
        t0 = time.perf_counter_ns()
        session.run_in_place()
        latencies[i // batch] = time.perf_counter_ns() - t0
        predictions[i:i + batch] = out_view.reshape(batch, -1).argmax(axis=1)

    accuracy = float(np.mean(predictions == y))
    print("top-1 accuracy %.1f%% on %d samples; latency %.1f us per inference (median, tier %s, "
          "%d thread%s)" % (100 * accuracy, len(y), np.median(latencies) / 1e3, session.tier,
                            session.threads, "" if session.threads == 1 else "s"))
    if accuracy < args.min_accuracy:
        print("accuracy %.3f is below --min-accuracy %.3f" % (accuracy, args.min_accuracy), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
