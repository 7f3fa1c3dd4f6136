"""Keep an int8-weight ONNX model's weights int8 in memory, with the same vectors.

Why: the all-MiniLM-L6-v2 int8 export stores its weights as int8 initializers
dequantized in the graph, ``Mul(Cast(W_int8, to=float), scale)``. onnxruntime's
constant folding (``optimize_for: speed``) evaluates those subgraphs once at
load, so the session holds every weight as float32: 22.5 M weights x 4 bytes,
+93 MB resident. Turning constant folding off (``optimize_for: memory``) keeps
them int8 but dequantizes all of them again on every batch (~2.8x the CPU).

What: two exact patterns are rewritten so that nothing constant is left to fold
and the weights stay int8 (uint8) in the session:

1. ``MatMul(A, Mul(Cast(W[K, N] int8), scale[1, N]))`` (symmetric, one scale per
   output column) becomes ``com.microsoft.MatMulNBits`` with bits=8: the weights
   stored as ``W + 128`` in uint8 with zero point 128, laid out [N, K/128, 128],
   the column's scale repeated for each block of 128 along K.
2. ``Gather(Mul(Cast(E[V, D] int8), scale[V, 1]), ids)`` (embedding tables, one
   scale per row) becomes ``Mul(Cast(Gather(E, ids)), Gather(scale, ids))``: only
   the looked-up rows are dequantized, at run time (``ids`` is an input).

Why the outputs are the same: both keep the original dequantized weight values
exactly. ``(W + 128) - 128`` is the same small integer in float32 and is
multiplied by the same float32 scale, a single rounding as in the original
``Mul``; a gathered row times its gathered scale is the same product as the
product's row. Only the MatMul's summation order can differ (a different
kernel): measured on 320 real paragraphs, cosine to the original >= 1 - 4e-13,
no component off by more than 1.5e-7. (An accuracy_level of 4 would be faster
but quantizes the activations too: cosine 0.999, not the same vectors.)

Measured (all-MiniLM-L6-v2 int8, onnxruntime 1.32, 2 threads, 320 corpus texts
in the default batches; docs/embedders.md): the session costs +29 MB resident
instead of +93 MB, for ~1.25x the CPU time. The embedding tables cost nothing
(-34 MB, +1 % CPU, bit-identical vectors); the MatMuls are the CPU cost (-30 MB):
MatMulNBits dequantizes its weights on every call before a float32 GEMM, so the
overhead shrinks with larger batches (1.11x at 32 texts, no token bound).

Anything else (other dtypes or shapes, shared intermediate values, initializers
that a graph input may override, control-flow subgraphs) is left untouched;
``rewrite`` returns None when nothing matched, and the model is loaded as is.

``onnx`` stays resident once imported (+14 MB steady when the daemon rewrites
in process), so the daemon runs the rewrite in a short-lived child process,
``python -m driftwatch.embedders.onnx_weights MODEL OUT`` (~0.9 s of CPU, 170 MB
peak, first load only), and caches the result (23 MB) under
``$XDG_CACHE_HOME/driftwatch/onnx-int8`` (default ``~/.cache/...``), keyed by the
model file's sha256.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from driftwatch.cache_home import cache_dir

if TYPE_CHECKING:
    from onnx import GraphProto, ModelProto, NodeProto, TensorProto

# Bumped whenever the rewrite changes, so that cached results of an older one are not used.
REWRITE_VERSION = 1
_BLOCK = 128  # MatMulNBits block along K: every K in MiniLM (384, 1536) is a multiple
_NOTHING_TO_REWRITE = 3  # exit status of the child when the model has neither pattern
# A rewrite takes ~1 s; a child still running after this is stuck, and the daemon
# loads the original model instead (TimeoutExpired reaches embedders.onnx's fallback).
_CHILD_TIMEOUT_S = 300
_INT8 = 3  # onnx.TensorProto.INT8 / FLOAT, without importing onnx at module level
_FLOAT = 1


class _Graph:
    """Lookups over one graph: producers, consumers, initializers, names in use."""

    def __init__(self, graph: GraphProto) -> None:
        self.graph = graph
        self.producer = {out: node for node in graph.node for out in node.output}
        self.consumers: dict[str, list[NodeProto]] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.initializers = {init.name: init for init in graph.initializer}
        self.overridable = {i.name for i in graph.input}  # an input may replace an initializer
        self.graph_outputs = {o.name for o in graph.output}
        self.names = (
            set(self.producer)
            | set(self.consumers)
            | set(self.initializers)
            | self.overridable
            | self.graph_outputs
            | {node.name for node in graph.node}
        )

    def only_consumer(self, value: str, node: NodeProto) -> bool:
        consumers = self.consumers.get(value, [])
        return len(consumers) == 1 and consumers[0] is node and value not in self.graph_outputs

    def unique(self, base: str) -> str:
        name, n = base, 1
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.add(name)
        return name

    def constant(self, name: str) -> TensorProto | None:
        return None if name in self.overridable else self.initializers.get(name)


def _is(node: NodeProto | None, op_type: str) -> bool:
    return node is not None and node.op_type == op_type and node.domain in ("", "ai.onnx")


def _attr(node: NodeProto, name: str, default: int) -> int:
    return next((int(a.i) for a in node.attribute if a.name == name), default)


def _dequantized(g: _Graph, value: str, consumer: NodeProto) -> tuple[Any, Any] | None:
    """(int8 weights, float32 scale) if ``value`` is ``Mul(Cast(W int8, to=float), scale)``
    used by ``consumer`` alone; the Cast and the Mul must have no other consumer."""
    from onnx import numpy_helper

    mul = g.producer.get(value)
    if mul is None or not _is(mul, "Mul") or not g.only_consumer(value, consumer):
        return None
    cast = g.producer.get(mul.input[0])
    if cast is None or not _is(cast, "Cast") or _attr(cast, "to", 0) != _FLOAT:
        return None
    if not g.only_consumer(cast.output[0], mul):
        return None
    weights, scale = g.constant(cast.input[0]), g.constant(mul.input[1])
    if weights is None or scale is None or weights.data_type != _INT8:
        return None
    if scale.data_type != _FLOAT or len(weights.dims) != 2:
        return None
    return numpy_helper.to_array(weights), numpy_helper.to_array(scale)


def _matmul_nbits(g: _Graph, matmul: NodeProto) -> list[NodeProto] | None:
    """Pattern 1 as one MatMulNBits node (bits 8), or None if ``matmul`` does not match."""
    from onnx import helper, numpy_helper

    found = _dequantized(g, matmul.input[1], matmul)
    if found is None:
        return None
    weights, scale = found
    k, n = weights.shape
    if scale.shape != (1, n) or k % _BLOCK:
        return None
    blocks = k // _BLOCK
    stored = (weights.astype(np.int16) + 128).astype(np.uint8).T.reshape(n, blocks, _BLOCK)
    base = matmul.name or matmul.output[0]
    names = [g.unique(f"{base}_int8_{part}") for part in ("weight", "scale", "zero_point")]
    g.graph.initializer.extend(
        [
            numpy_helper.from_array(stored, names[0]),
            numpy_helper.from_array(np.repeat(scale.reshape(n, 1), blocks, axis=1), names[1]),
            numpy_helper.from_array(np.full(n * blocks, 128, dtype=np.uint8), names[2]),
        ]
    )
    node = helper.make_node(
        "MatMulNBits",
        [matmul.input[0], *names],
        list(matmul.output),
        name=g.unique(f"{base}_int8"),
        domain="com.microsoft",
        K=k,
        N=n,
        bits=8,
        block_size=_BLOCK,
        accuracy_level=0,  # float32 arithmetic, as in the original MatMul
    )
    return [node]


def _gather_rows(g: _Graph, gather: NodeProto) -> list[NodeProto] | None:
    """Pattern 2 as Gather, Gather, Cast, Mul, or None if ``gather`` does not match."""
    from onnx import helper

    found = _dequantized(g, gather.input[0], gather)
    if found is None or _attr(gather, "axis", 0) != 0:
        return None
    table, scale = found
    if scale.shape != (table.shape[0], 1):
        return None
    mul = g.producer[gather.input[0]]
    cast = g.producer[mul.input[0]]
    ids = gather.input[1]
    base = gather.name or gather.output[0]
    rows, row_scales, rows_f = (g.unique(f"{base}_int8_{v}") for v in ("rows", "scales", "f"))
    return [
        helper.make_node("Gather", [cast.input[0], ids], [rows], name=g.unique(rows), axis=0),
        helper.make_node("Gather", [mul.input[1], ids], [row_scales], name=g.unique(row_scales)),
        helper.make_node("Cast", [rows], [rows_f], name=g.unique(rows_f), to=_FLOAT),
        helper.make_node("Mul", [rows_f, row_scales], list(gather.output), name=g.unique(base)),
    ]


def _has_subgraphs(graph: GraphProto) -> bool:
    # Names used inside If/Loop bodies are not visible as consumers here: leave such models alone.
    return any(attr.g.node or attr.graphs for node in graph.node for attr in node.attribute)


def _rewrite_model(model: ModelProto) -> bool:
    """Rewrite ``model`` in place; True if any pattern matched."""
    from onnx import helper

    graph = model.graph
    if _has_subgraphs(graph):
        return False
    g = _Graph(graph)
    replaced: list[tuple[NodeProto, list[NodeProto]]] = []
    for node in graph.node:
        new = None
        if _is(node, "MatMul"):
            new = _matmul_nbits(g, node)
        elif _is(node, "Gather"):
            new = _gather_rows(g, node)
        if new is not None:
            replaced.append((node, new))
    if not replaced:
        return False
    dropped: list[NodeProto] = []
    for old, _ in replaced:
        mul = g.producer[old.input[1] if _is(old, "MatMul") else old.input[0]]
        dropped += [mul, g.producer[mul.input[0]]]
    nodes: list[NodeProto] = []
    new_for = {id(old): new for old, new in replaced}
    dropped_ids = {id(node) for node in dropped}
    for node in graph.node:
        if id(node) not in dropped_ids:
            nodes.extend(new_for.get(id(node), [node]))
    del graph.node[:]
    graph.node.extend(nodes)
    _drop_unused(graph, {name for node in dropped for name in (*node.input, *node.output)})
    if not any(op.domain == "com.microsoft" for op in model.opset_import) and any(
        node.domain == "com.microsoft" for node in nodes
    ):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return True


def _drop_unused(graph: GraphProto, candidates: set[str]) -> None:
    """Remove initializers and value_info among ``candidates`` that nothing uses any more."""
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    gone = candidates - used
    keep = [init for init in graph.initializer if init.name not in gone]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    info = [vi for vi in graph.value_info if vi.name not in gone]
    del graph.value_info[:]
    graph.value_info.extend(info)


def rewrite(model: bytes | Path) -> bytes | None:
    """The serialized model with both patterns rewritten, or None if neither occurs."""
    import onnx

    proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))
    return proto.SerializeToString() if _rewrite_model(proto) else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def int8_model(path: Path) -> Iterator[Path | None]:
    """A file holding the rewritten model for ``path`` while the context lasts; None if
    the model has nothing to rewrite.

    The rewrite runs in a child process so that the daemon never imports ``onnx``. Its
    result is cached when the cache directory is writable (a marker file remembers
    models with nothing to rewrite); otherwise it goes to a temporary file and the child
    runs again on the next load. A file, not bytes: onnxruntime keeps a copy of a
    model it was given as bytes (+22 MB resident).
    """
    key = f"{_sha256(path)}-v{REWRITE_VERSION}"
    cache = cache_dir("onnx-int8")
    done, nothing = cache / f"{key}.onnx", cache / f"{key}.none"
    if done.is_file() or nothing.is_file():
        yield done if done.is_file() else None
        return
    try:
        cache.mkdir(parents=True, exist_ok=True)
        workdir, cached = tempfile.TemporaryDirectory(dir=cache), True  # atomic rename
    except OSError:
        workdir, cached = tempfile.TemporaryDirectory(), False
    with workdir as tmp:
        out = Path(tmp) / "model.onnx"
        child = subprocess.run(  # noqa: S603 - this interpreter, this module, our own paths
            [sys.executable, "-m", __name__, str(path), str(out)],
            check=False,
            capture_output=True,
            timeout=_CHILD_TIMEOUT_S,
        )
        if child.returncode not in (0, _NOTHING_TO_REWRITE):
            last = child.stderr.decode(errors="replace").strip().rpartition("\n")[2]
            raise RuntimeError(f"rewrite failed (exit {child.returncode}): {last}")
        if child.returncode == _NOTHING_TO_REWRITE:
            if cached:
                nothing.touch()
            yield None
            return
        if cached:  # renamed complete: a concurrent reader never sees a partial file
            out = out.replace(done)
        yield out


def main(argv: list[str]) -> int:
    """``python -m driftwatch.embedders.onnx_weights MODEL OUT``: write the rewritten
    model to OUT; exit status 3 if there is nothing to rewrite."""
    src, dst = argv
    out = rewrite(Path(src))
    if out is None:
        return _NOTHING_TO_REWRITE
    Path(dst).write_bytes(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
