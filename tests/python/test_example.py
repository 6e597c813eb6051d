"""examples/python/convert_and_run.py runs against the importable package."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT, model_path

SCRIPT = ROOT / "examples" / "python" / "convert_and_run.py"


def run_example(tmp_path, *extra):
    args = [sys.executable, str(SCRIPT), str(model_path("fashion_cnn_bn.onnx")),
            str(model_path("fashion_calib_x.npy")), str(model_path("fashion_eval_x.npy")),
            str(model_path("fashion_eval_y.npy")), str(tmp_path / "out"), *extra]
    # From another directory, so that nothing of the source tree is importable
    # by accident: the package comes from the environment (PYTHONPATH or site).
    return subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ))


def test_example_converts_and_reports(tmp_path):
    r = run_example(tmp_path)
    assert r.returncode == 0, r.stderr
    assert "top-1 accuracy" in r.stdout and "us per inference" in r.stdout
    accuracy = float(r.stdout.split("top-1 accuracy ")[1].split("%")[0])
    assert accuracy > 85.0
    assert (tmp_path / "out" / "fashion_cnn_bn_int8.quanta").exists()


def test_example_fails_below_min_accuracy(tmp_path):
    r = run_example(tmp_path, "--min-accuracy", "0.999")
    assert r.returncode == 1
    assert "below --min-accuracy" in r.stderr


@pytest.mark.parametrize("bad", ["missing.onnx"])
def test_example_reports_conversion_errors(tmp_path, bad):
    args = [sys.executable, str(SCRIPT), str(tmp_path / bad), str(model_path("fashion_calib_x.npy")),
            str(model_path("fashion_eval_x.npy")), str(model_path("fashion_eval_y.npy")), str(tmp_path)]
    r = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 1
    assert "conversion failed (not found)" in r.stderr
