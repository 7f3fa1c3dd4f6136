"""A real "same model, different build" variant for calibration and tests.

``int8_paraphrase_path()`` quantises the fp32 paraphrase-MiniLM-L3-v2 ONNX file
to int8 weights with ``onnxruntime.quantization.quantize_dynamic`` — what a
provider's quiet rebuild or requantisation looks like. The result is cached
(``benchmarks/.work`` by default, or ``$DRIFTWATCH_VARIANT_DIR``); building it
takes a few seconds.
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path

from driftwatch.config import OnnxEmbedderConfig
from driftwatch.embedders.onnx import OnnxEmbedder, resolve_model_path
from tests.support.models import PARAPHRASE, onnx_config

WORK_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / ".work"
INT8_NAME = "paraphrase-MiniLM-L3-v2-int8.onnx"


def _variant_dir() -> Path:
    return Path(os.environ.get("DRIFTWATCH_VARIANT_DIR") or WORK_DIR)


@cache
def int8_paraphrase_path() -> Path:
    """Path of the int8 build of paraphrase-MiniLM-L3-v2 (built once, then reused)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = _variant_dir() / INT8_NAME
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    source = resolve_model_path(PARAPHRASE, PARAPHRASE)
    # Write to a temporary name first so a concurrent or interrupted build never
    # leaves a half-written model behind.
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        partial = Path(tmp) / INT8_NAME
        quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8)
        partial.replace(target)
    return target


def int8_paraphrase_config(model: str = PARAPHRASE) -> OnnxEmbedderConfig:
    """The int8 variant under the fp32 model's name (a provider's silent rebuild)."""
    return onnx_config(model, str(int8_paraphrase_path()))


@cache
def int8_paraphrase_embedder() -> OnnxEmbedder:
    return OnnxEmbedder(int8_paraphrase_config())
