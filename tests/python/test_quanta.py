"""Tests of the runtime side of the Python module: Model, Session, errors."""

import gc
import os
import re
import threading

import numpy as np
import pytest

import quanta
from conftest import U8_SCALE, dequantize, maxpool2x2


def demo_input(seed):
    return np.random.default_rng(seed).uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)


# ------------------------------------------------------------------ package


def test_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", quanta.__version__)
    assert quanta.format_version == (1, 0)


def test_error_hierarchy():
    assert issubclass(quanta.InvalidArgument, quanta.Error)
    assert issubclass(quanta.InvalidArgument, ValueError)
    assert issubclass(quanta.NotFound, FileNotFoundError)
    assert issubclass(quanta.IoError, OSError)
    assert issubclass(quanta.ResourceExhausted, MemoryError)
    for cls in (quanta.InvalidModel, quanta.Unsupported, quanta.InternalError):
        assert issubclass(cls, quanta.Error)
    assert quanta.InvalidArgument.code == "invalid argument"
    assert quanta.NotFound.code == "not found"
    assert quanta.Error.__module__ == "quanta"


# ------------------------------------------------------------------ Model


def test_model_metadata(demo_int8):
    m = quanta.Model(demo_int8)
    assert m.producer.startswith("quanta demo-model")
    assert "int8" in m.description
    assert m.file_size == os.path.getsize(demo_int8)
    assert m.version == (1, 0)
    (inp,) = m.inputs
    assert inp.name == "input"
    assert inp.shape == (1, 16, 16, 3)
    assert inp.dtype == np.float32 and inp.dtype == "float32"
    assert inp.scale == [] and not inp.quantized
    assert inp.num_elements == 16 * 16 * 3 and inp.num_bytes == 16 * 16 * 3 * 4
    (out,) = m.outputs
    assert (out.name, out.shape) == ("probs", (1, 10))
    nodes = m.nodes
    assert len(nodes) == 12
    assert nodes[0].op == "Quantize" and nodes[-1].op == "Dequantize"
    assert nodes[1].name == "conv1" and nodes[1].inputs[0] == "input_q"
    assert m.macs == sum(n.macs for n in nodes) > 0
    assert "Model" in repr(m)


def test_model_accepts_pathlike_and_str(demo_int8):
    assert quanta.Model(str(demo_int8)).file_size == quanta.Model(demo_int8).file_size


def test_model_from_bytes_matches_file(demo_int8):
    data = bytearray(demo_int8.read_bytes())
    from_bytes = quanta.Model.from_bytes(data)
    # copy=True: the model owns its bytes; the caller's buffer may change or go.
    data[:] = b"\0" * len(data)
    del data
    gc.collect()
    x = demo_input(1)
    a = quanta.Session(from_bytes).run({"input": x})["probs"]
    b = quanta.Session(demo_int8).run({"input": x})["probs"]
    np.testing.assert_array_equal(a, b)


def test_quantized_tensor_info(u8_model_bytes):
    m = quanta.Model.from_bytes(u8_model_bytes)
    (x,) = m.inputs
    assert x.dtype == np.uint8
    assert x.quantized and x.axis == -1
    assert x.scale == [pytest.approx(0.05)] and x.zero_point == [100]
    assert [o.name for o in m.outputs] == ["pool", "pool_f32"]
    assert m.outputs[1].dtype == np.float32
    assert "zero_point=100" in repr(x) and "scale=0.05" in repr(x)


# ------------------------------------------------------------------ Session


def test_session_properties(demo_int8):
    s = quanta.Session(demo_int8)
    assert s.tier in ("ref", "avx2", "avx512vnni")
    assert s.backend == "own"
    assert s.threads == 1
    assert s.arena_bytes > 0 and s.prepared_bytes > 0
    assert [t.name for t in s.inputs] == ["input"]
    assert [t.name for t in s.outputs] == ["probs"]
    assert s.model.file_size == os.path.getsize(demo_int8)
    r = quanta.Session(demo_int8, tier="ref", threads=2, backend="own")
    assert (r.tier, r.threads, r.backend) == ("ref", 2, "own")


def test_run_same_on_every_tier(demo_int8):
    # Quantized kernels give the reference's bytes on every tier.
    x = demo_input(2)
    ref = quanta.Session(demo_int8, tier="ref").run({"input": x})["probs"]
    auto = quanta.Session(demo_int8).run({"input": x})["probs"]
    np.testing.assert_array_equal(ref, auto)
    assert ref.shape == (1, 10) and ref.dtype == np.float32
    assert abs(float(ref.sum()) - 1.0) < 0.05  # softmax probabilities (uint8, s=1/256)


def test_run_u8_raw_matches_numpy(u8_model_bytes):
    s = quanta.Session(quanta.Model.from_bytes(u8_model_bytes))
    q = np.random.default_rng(3).integers(0, 256, (1, 4, 4, 2), dtype=np.uint8)
    r = s.run({"x": q}, raw=True)
    assert r["pool"].dtype == np.uint8
    np.testing.assert_array_equal(r["pool"], maxpool2x2(q))
    # run() without raw: the same result dequantized, computed once by numpy.
    f = s.run({"x": dequantize(q)})
    assert f["pool"].dtype == np.float32
    np.testing.assert_array_equal(f["pool"], dequantize(r["pool"]))
    np.testing.assert_array_equal(f["pool_f32"], f["pool"])


def test_run_quantizes_float_input(u8_model_bytes):
    s = quanta.Session(quanta.Model.from_bytes(u8_model_bytes))
    rng = np.random.default_rng(4)
    q = rng.integers(0, 256, (1, 4, 4, 2)).astype(np.uint8)
    # Off the grid by less than half a step: rounds back to q. Values beyond
    # the range saturate to 0 / 255.
    x = dequantize(q) + rng.uniform(-0.3, 0.3, q.shape).astype(np.float32) * U8_SCALE
    x[0, 0, 0, 0] = 1e6
    x[0, 3, 3, 1] = -1e6
    q[0, 0, 0, 0], q[0, 3, 3, 1] = 255, 0
    f = s.run({"x": x}, outputs=["pool"])
    assert list(f) == ["pool"]
    np.testing.assert_array_equal(f["pool"], dequantize(maxpool2x2(q)))
    # The quantized feed, as the session holds it.
    np.testing.assert_array_equal(s.input_array("x"), q)


def test_run_output_selection_and_order(u8_model_bytes):
    s = quanta.Session(quanta.Model.from_bytes(u8_model_bytes))
    q = np.full((1, 4, 4, 2), 7, np.uint8)
    r = s.run({"x": q}, outputs=["pool_f32", "pool"], raw=True)
    assert list(r) == ["pool_f32", "pool"]
    assert list(s.run({"x": q}, outputs=[], raw=True)) == []
    assert list(s.run({"x": q}, outputs="pool", raw=True)) == ["pool"]


def test_run_accepts_missing_batch_dim_and_any_layout(demo_int8):
    s = quanta.Session(demo_int8)
    x = demo_input(5)
    want = s.run({"input": x})["probs"]
    np.testing.assert_array_equal(s.run({"input": x[0]})["probs"], want)  # (16, 16, 3)
    np.testing.assert_array_equal(s.run(x)["probs"], want)  # a bare array, single input
    np.testing.assert_array_equal(s.run({"input": x.astype(np.float64)})["probs"], want)
    fortran = np.asfortranarray(x)
    assert not fortran.flags.c_contiguous
    np.testing.assert_array_equal(s.run({"input": fortran})["probs"], want)
    strided = np.zeros((1, 16, 16, 6), np.float32)
    strided[..., ::2] = x
    np.testing.assert_array_equal(s.run({"input": strided[..., ::2]})["probs"], want)
    np.testing.assert_array_equal(s.run({"input": x.tolist()})["probs"], want)


def test_run_results_are_fresh_arrays(demo_int8):
    s = quanta.Session(demo_int8)
    a = s.run({"input": demo_input(6)})["probs"]
    keep = a.copy()
    s.run({"input": demo_input(7)})
    np.testing.assert_array_equal(a, keep)  # not a view of the session's memory
    assert a.flags.owndata or a.base is not None and a.flags.writeable


def test_fp32_and_int8_demo_models_agree(demo_int8, demo_fp32):
    x = np.random.default_rng(8).uniform(-1, 1, (20, 1, 16, 16, 3)).astype(np.float32)
    s8, s32 = quanta.Session(demo_int8), quanta.Session(demo_fp32)
    p8 = np.concatenate([s8.run(xi)["probs"] for xi in x])
    p32 = np.concatenate([s32.run(xi)["probs"] for xi in x])
    assert np.abs(p8 - p32).max() < 0.05
    assert abs(float(p32.sum(axis=1).mean()) - 1.0) < 1e-4


# ------------------------------------------------------------------ zero copy


def test_input_array_aliases_session_memory(demo_int8):
    s = quanta.Session(demo_int8)
    view = s.input_array("input")
    assert view.shape == (1, 16, 16, 3) and view.dtype == np.float32
    assert view.flags.writeable and view.base is s
    assert np.shares_memory(view, s.input_array(0))
    x = demo_input(9)
    view[...] = x
    s.run_in_place()
    out = s.output_array("probs")
    assert not out.flags.writeable and out.base is s
    want = quanta.Session(demo_int8).run({"input": x})["probs"]
    np.testing.assert_array_equal(out, want)
    # run() copies its feeds into the same memory: the input view shows them,
    # and the output view shows every new result.
    x2 = demo_input(10)
    r = s.run({"input": x2})
    np.testing.assert_array_equal(view, x2)
    np.testing.assert_array_equal(out, r["probs"])
    with pytest.raises(ValueError):
        out[0, 0] = 1.0


def test_u8_views_raw_bytes(u8_model_bytes):
    s = quanta.Session(quanta.Model.from_bytes(u8_model_bytes))
    view = s.input_array("x")
    assert view.dtype == np.uint8 and view.shape == (1, 4, 4, 2)
    q = np.random.default_rng(11).integers(0, 256, view.shape, dtype=np.uint8)
    view[...] = q
    s.run_in_place()
    np.testing.assert_array_equal(s.output_array("pool"), maxpool2x2(q))
    np.testing.assert_array_equal(s.output_array(1), dequantize(maxpool2x2(q)))


def test_views_keep_the_session_alive(demo_int8):
    s = quanta.Session(demo_int8)
    view = s.input_array(0)
    out = s.output_array(0)
    x = demo_input(12)
    want = s.run({"input": x})["probs"]
    del s
    gc.collect()
    # The arrays' base still holds the session: its memory is valid.
    np.testing.assert_array_equal(view, x)
    np.testing.assert_array_equal(out, want)
    view[...] = 0.0
    view.base.run_in_place()
    np.testing.assert_array_equal(out, quanta.Session(demo_int8).run(np.zeros((1, 16, 16, 3)))["probs"])


# ------------------------------------------------------------------ threads


def test_concurrent_runs(demo_int8):
    xs = [demo_input(100 + i) for i in range(8)]
    want = [quanta.Session(demo_int8).run(x)["probs"] for x in xs]
    shared = quanta.Session(demo_int8)
    errors = []

    def work(session, k):
        try:
            for _ in range(50):
                for x, w in zip(xs, want):
                    np.testing.assert_array_equal(session.run({"input": x})["probs"], w)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(shared, k)) for k in range(3)]
    threads += [threading.Thread(target=work, args=(quanta.Session(demo_int8), k)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_profile_timings(demo_int8):
    s = quanta.Session(demo_int8, profile=True)
    for _ in range(3):
        s.run(demo_input(13))
    t = s.timings()
    assert len(t) == len(s.model.nodes)
    # Every node ran 3 times, except those that are free (a Flatten aliases its input).
    assert all(row["runs"] == 3 or row["op"] == "Flatten" and row["runs"] == 0 for row in t)
    assert t[1]["op"] == "Conv2D" and t[1]["total_ns"] > 0
    s.reset_timings()
    assert all(row["runs"] == 0 for row in s.timings())


# ------------------------------------------------------------------ errors


def test_missing_file(tmp_path):
    missing = tmp_path / "missing.quanta"
    with pytest.raises(quanta.NotFound) as e:
        quanta.Model(missing)
    assert isinstance(e.value, FileNotFoundError)
    assert str(missing) in str(e.value)
    assert e.value.code == "not found"
    with pytest.raises(quanta.NotFound):
        quanta.Session(missing)


def test_invalid_model(tmp_path, fashion):
    with pytest.raises(quanta.InvalidModel, match="not a .quanta model"):
        quanta.Model.from_bytes(b"not a model at all, just some bytes")
    with pytest.raises(quanta.InvalidModel, match="not a .quanta model"):
        quanta.Model(fashion["onnx"])  # an ONNX file


def test_corrupted_model_fails_checksum(demo_int8):
    data = bytearray(demo_int8.read_bytes())
    data[len(data) // 2] ^= 0x01
    with pytest.raises(quanta.InvalidModel):
        quanta.Model.from_bytes(bytes(data))


def test_nan_input(demo_int8):
    s = quanta.Session(demo_int8)
    x = demo_input(14)
    before = s.run({"input": x})["probs"]
    bad = x.copy()
    bad[0, 3, 4, 1] = np.nan
    with pytest.raises(quanta.InvalidArgument, match=r"input 0 \('input'\): element %d is NaN"
                       % (3 * 16 * 3 + 4 * 3 + 1)) as e:
        s.run({"input": bad})
    assert isinstance(e.value, ValueError) and e.value.code == "invalid argument"
    # Nothing ran: the session's input memory still holds the previous feed.
    np.testing.assert_array_equal(s.input_array(0), x)
    np.testing.assert_array_equal(s.output_array(0), before)


def test_wrong_shape(demo_int8):
    s = quanta.Session(demo_int8)
    for shape in [(16, 3), (1, 16, 16, 4), (2, 16, 16, 3), (1, 3, 16, 16), (768,)]:
        with pytest.raises(quanta.InvalidArgument, match=r"input 'input': got an array of shape"):
            s.run({"input": np.zeros(shape, np.float32)})


def test_unknown_names(demo_int8):
    s = quanta.Session(demo_int8)
    x = demo_input(15)
    with pytest.raises(quanta.InvalidArgument, match="no input named 'image': the model's inputs are 'input'"):
        s.run({"input": x, "image": x})
    with pytest.raises(quanta.InvalidArgument, match="no output named 'logits'"):
        s.run({"input": x}, outputs=["logits"])
    with pytest.raises(quanta.InvalidArgument, match="is not bound"):
        s.run({})
    with pytest.raises(quanta.InvalidArgument, match="no input named 'nope'"):
        s.input_array("nope")
    with pytest.raises(quanta.InvalidArgument, match="output index 1 out of range"):
        s.output_array(1)
    with pytest.raises(TypeError):
        s.input_array(1.5)


def test_raw_dtype_mismatch(u8_model_bytes):
    s = quanta.Session(quanta.Model.from_bytes(u8_model_bytes))
    with pytest.raises(quanta.InvalidArgument, match="raw=True takes the tensor's stored dtype uint8, got float32"):
        s.run({"x": np.zeros((1, 4, 4, 2), np.float32)}, raw=True)


def test_bad_session_options(demo_int8):
    with pytest.raises(quanta.InvalidArgument, match="tier 'fastest' is not a kernel tier"):
        quanta.Session(demo_int8, tier="fastest")
    with pytest.raises(quanta.InvalidArgument, match="backend 'mine' is not a backend"):
        quanta.Session(demo_int8, backend="mine")
    with pytest.raises(quanta.InvalidArgument, match="threads = 300"):
        quanta.Session(demo_int8, threads=300)
    with pytest.raises(quanta.InvalidArgument, match="max_arena_mb"):
        quanta.Session(demo_int8, max_arena_mb=-1)
    with pytest.raises(quanta.InvalidArgument, match="max_prepared_mb"):
        quanta.Session(demo_int8, max_prepared_mb=0.5)
    assert quanta.Session(demo_int8, max_arena_mb=1, max_prepared_mb=1).arena_bytes < 1 << 20


def test_memory_limit(make_u8_model):
    big = quanta.Model.from_bytes(make_u8_model(512, 1024))  # x 1 MiB, pool 0.25 MiB, pool_f32 1 MiB
    with pytest.raises(quanta.ResourceExhausted) as e:
        quanta.Session(big, max_arena_mb=1)
    assert isinstance(e.value, MemoryError) and e.value.code == "resource limit exceeded"
    assert "arena" in str(e.value)
    s = quanta.Session(big, max_arena_mb=3)
    assert 2 << 20 < s.arena_bytes <= 3 << 20
    q = np.random.default_rng(16).integers(0, 256, (1, 512, 1024, 2), dtype=np.uint8)
    np.testing.assert_array_equal(s.run({"x": q}, raw=True)["pool"], maxpool2x2(q))
