"""Keeping int8 weights int8 (onnx_weights) on the real packaged models and corpus."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer

from driftwatch.embedders.onnx import OnnxEmbedder, default_tokenizer_path, resolve_model_path
from driftwatch.embedders.onnx_weights import int8_model, rewrite
from tests.support.models import MINILM, PARAPHRASE, corpus, onnx_config

TEXTS = [row["text"] for row in corpus()[::40][:40]]


@cache
def _minilm_rewritten() -> bytes:
    out = rewrite(resolve_model_path(None, MINILM))
    assert out is not None
    return out


def _mean_pooled(session: ort.InferenceSession, texts: list[str]) -> np.ndarray:
    """L2-normalised mean-pooled vectors, 8 texts per run, in float64 for comparing."""
    tokenizer = Tokenizer.from_file(str(default_tokenizer_path()))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.enable_padding()
    out = []
    for start in range(0, len(texts), 8):
        enc = tokenizer.encode_batch(texts[start : start + 8])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        (tokens,) = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        summed = (tokens.astype(np.float64) * mask[:, :, None]).sum(axis=1)
        out.append(summed / mask.sum(axis=1, keepdims=True))
    vectors = np.vstack(out)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@cache
def _original_vectors() -> np.ndarray:
    """An unmodified session of the original file, onnxruntime's default options."""
    session = ort.InferenceSession(str(resolve_model_path(None, MINILM)))
    return _mean_pooled(session, TEXTS)


def test_minilm_int8_matmuls_and_embedding_tables_are_rewritten() -> None:
    model = onnx.load_from_string(_minilm_rewritten())
    ops = Counter(node.op_type for node in model.graph.node)
    int8 = {i.name for i in model.graph.initializer if i.data_type == TensorProto.INT8}
    assert ops["MatMulNBits"] == 36
    int8_gathers = [n for n in model.graph.node if n.op_type == "Gather" and n.input[0] in int8]
    assert len(int8_gathers) == 2  # word and position embeddings
    # Nothing left for constant folding to expand: no Cast of an int8 initializer.
    assert not [n for n in model.graph.node if n.op_type == "Cast" and n.input[0] in int8]
    float_weights = sum(
        int(np.prod(i.dims)) for i in model.graph.initializer if i.data_type == TensorProto.FLOAT
    )
    assert float_weights < 1_000_000  # scales, biases, layer norms; the weights are 22.5 M


def test_rewritten_minilm_gives_the_original_vectors() -> None:
    session = ort.InferenceSession(_minilm_rewritten())
    cosines = (_mean_pooled(session, TEXTS) * _original_vectors()).sum(axis=1)
    assert cosines.min() >= 1 - 1e-6, f"min cosine {cosines.min():.12f}"


def test_the_embedder_loads_the_rewritten_model_once_and_caches_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    vectors = OnnxEmbedder(onnx_config(MINILM)).embed(TEXTS)
    (cached,) = (tmp_path / "driftwatch" / "onnx-int8").iterdir()
    assert cached.suffix == ".onnx"
    assert cached.read_bytes() == _minilm_rewritten()
    cosines = (vectors.astype(np.float64) * _original_vectors()).sum(axis=1)
    assert cosines.min() >= 1 - 1e-6, f"min cosine {cosines.min():.12f}"
    stamp = cached.stat().st_mtime_ns
    with int8_model(resolve_model_path(None, MINILM)) as again:
        assert again == cached
    assert cached.stat().st_mtime_ns == stamp


def test_throughput_loads_the_model_as_exported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    vectors = OnnxEmbedder(onnx_config(MINILM, optimize_for="throughput")).embed(TEXTS)
    assert not (tmp_path / "driftwatch").exists()  # no rewrite ran, nothing was cached
    cosines = (vectors.astype(np.float64) * _original_vectors()).sum(axis=1)
    assert cosines.min() >= 1 - 1e-6, f"min cosine {cosines.min():.12f}"


def test_without_a_writable_cache_the_rewrite_goes_to_a_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_dir))
    with int8_model(resolve_model_path(None, MINILM)) as path:
        assert path is not None
        assert path.read_bytes() == _minilm_rewritten()
    assert not path.exists()


def test_a_float32_model_has_nothing_to_rewrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = resolve_model_path(None, PARAPHRASE)
    assert rewrite(path) is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with int8_model(path) as rewritten:
        assert rewritten is None
    (marker,) = (tmp_path / "driftwatch" / "onnx-int8").iterdir()
    assert marker.suffix == ".none"  # the next load does not run the child again


# A tiny graph with both patterns, then variations that must be left alone.
K, N, V = 128, 4, 10
Edit = Callable[[onnx.ModelProto], None]


def _tiny(edit: Edit | None = None) -> onnx.ModelProto:
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(rng.integers(-127, 128, (K, N), dtype=np.int8), "w_q"),
        numpy_helper.from_array(rng.random((1, N), dtype=np.float32), "w_scale"),
        numpy_helper.from_array(rng.integers(-127, 128, (V, K), dtype=np.int8), "e_q"),
        numpy_helper.from_array(rng.random((V, 1), dtype=np.float32), "e_scale"),
    ]
    nodes = [
        helper.make_node("Cast", ["e_q"], ["e_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["e_f", "e_scale"], ["e"]),
        helper.make_node("Gather", ["e", "ids"], ["rows"], axis=0),
        helper.make_node("Cast", ["w_q"], ["w_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["w_f", "w_scale"], ["w"]),
        helper.make_node("MatMul", ["rows", "w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", N])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    if edit is not None:
        edit(model)
    return model


def _run(model: onnx.ModelProto | bytes) -> np.ndarray:
    data = model if isinstance(model, bytes) else model.SerializeToString()
    ids = np.array([3, 0, 9, 3], dtype=np.int64)
    return np.asarray(ort.InferenceSession(data).run(["y"], {"ids": ids})[0])


def test_the_tiny_graph_is_rewritten_with_the_same_output() -> None:
    out = rewrite(_tiny().SerializeToString())
    assert out is not None
    ops = Counter(n.op_type for n in onnx.load_from_string(out).graph.node)
    assert ops == {"MatMulNBits": 1, "Gather": 2, "Cast": 1, "Mul": 1}
    np.testing.assert_allclose(_run(out), _run(_tiny()), rtol=1e-6)


def _node(model: onnx.ModelProto, output: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if output in n.output)


def _init(model: onnx.ModelProto, name: str) -> onnx.TensorProto:
    return next(i for i in model.graph.initializer if i.name == name)


def _weights_uint8(m: onnx.ModelProto) -> None:
    for name in ("w_q", "e_q"):
        array = numpy_helper.to_array(_init(m, name)).astype(np.uint8)
        _init(m, name).CopyFrom(numpy_helper.from_array(array, name))


def _scales_swapped(m: onnx.ModelProto) -> None:
    # One scale per row for the MatMul, per column for the table: the wrong axis for both.
    w = numpy_helper.from_array(np.ones((K, 1), np.float32), "w_scale")
    e = numpy_helper.from_array(np.ones((1, K), np.float32), "e_scale")
    _init(m, "w_scale").CopyFrom(w)
    _init(m, "e_scale").CopyFrom(e)


def _cast_outputs_used_twice(m: onnx.ModelProto) -> None:
    m.graph.node.append(helper.make_node("Identity", ["w_f"], ["w_f_copy"]))
    m.graph.node.append(helper.make_node("Identity", ["e_f"], ["e_f_copy"]))


def _weights_are_graph_outputs(m: onnx.ModelProto) -> None:
    for name, shape in (("w", [K, N]), ("e", [V, K])):
        m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))


def _quantized_weights_overridable(m: onnx.ModelProto) -> None:
    for name, shape in (("w_q", [K, N]), ("e_q", [V, K])):
        m.graph.input.append(helper.make_tensor_value_info(name, TensorProto.INT8, shape))


def _cast_to_double(m: onnx.ModelProto) -> None:
    for name in ("w_f", "e_f"):
        _node(m, name).attribute[0].i = TensorProto.DOUBLE


@pytest.mark.parametrize(
    "edit",
    [
        _weights_uint8,
        _scales_swapped,
        _cast_outputs_used_twice,
        _weights_are_graph_outputs,
        _quantized_weights_overridable,
        _cast_to_double,
    ],
)
def test_anything_but_the_exact_patterns_is_left_alone(edit: Edit) -> None:
    assert rewrite(_tiny(edit).SerializeToString()) is None


def test_gather_on_another_axis_and_a_k_not_in_blocks_are_left_alone() -> None:
    def edit(m: onnx.ModelProto) -> None:
        _node(m, "rows").attribute[0].i = 1
        weights = np.ones((K + 1, N), np.int8)
        _init(m, "w_q").CopyFrom(numpy_helper.from_array(weights, "w_q"))

    assert rewrite(_tiny(edit).SerializeToString()) is None
