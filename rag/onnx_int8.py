"""The ONNX int8 embedding backend: the packaged sentence-transformers model exported once, offline, to an
int8 ONNX graph, and run through sentence-transformers with ONNX Runtime in place of torch.

Why not sentence-transformers' own ``backend="onnx"``: it needs Optimum, and every Optimum release that
can export or run ONNX pins transformers < 5.6, while the CPU build of vLLM pins transformers >= 5.16.
So the three steps Optimum would take are done here with the libraries underneath it:

1. ``torch.onnx.export`` of the transformer (eager attention, so step 2 can recognise it);
2. ONNX Runtime's transformer optimizer fuses attention, GELU and layer norms (BERT-family graphs);
3. ONNX Runtime's dynamic quantization makes the weights int8, per output channel (per-tensor int8 moved
   embeddings to cosine 0.91 of the torch model's; per-channel keeps them at 0.99).

The result sits in a cache folder with a manifest naming the source weights' sha256, so a changed model
is re-exported, and loads as a ``SentenceTransformer`` whose first module runs the ONNX session while the
model's own pooling and normalisation modules stay as they were.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.input_module import InputModule

log = logging.getLogger(__name__)

BACKEND = "onnx-int8"
GRAPH = "model_int8.onnx"
MANIFEST = "export.json"
RECIPE = "torch.onnx.export(eager) + ort optimizer(bert) + quantize_dynamic(QInt8, per_channel)"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def weights_sha256(model_dir: Path) -> str:
    """One digest over the model directory's weight files: what an export was made from."""
    digest = hashlib.sha256()
    for path in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        digest.update(path.name.encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def export_int8(model_dir: Path, target: Path) -> Path:
    """Export ``model_dir`` (a sentence-transformers folder) to ``target/model_int8.onnx``; return target."""
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    model = SentenceTransformer(
        str(model_dir), device="cpu", local_files_only=True, model_kwargs={"attn_implementation": "eager"}
    )
    transformer = model[0].auto_model.eval()
    config = transformer.config
    inputs = model.tokenizer(["an example sentence", "a second one"], padding=True, return_tensors="pt")
    names = [name for name in _INPUTS if name in inputs]

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw, fused = Path(tmp) / "model.onnx", Path(tmp) / "model_fused.onnx"
        axes = {"batch": 0, "tokens": 1}
        with warnings.catch_warnings():  # tracer notes about Python-side shape checks in the model code
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHidden(transformer),
                tuple(inputs[name] for name in names),
                str(raw),
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes={name: {v: k for k, v in axes.items()} for name in [*names, "token_embeddings"]},
                opset_version=17,
                dynamo=False,
            )
        optimized = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
        )
        fused_ops = optimized.get_fused_operator_statistics()
        log.info("fused operators: %s", {op: n for op, n in fused_ops.items() if n})
        optimized.save_model_to_file(str(fused))
        with _quiet_root_logger():  # the quantizer logs one INFO line per tensor on the root logger
            quantize_dynamic(
                str(fused),
                str(target / GRAPH),
                weight_type=QuantType.QInt8,
                per_channel=True,
                extra_options={"DefaultTensorType": 1},  # fused nodes carry no type; outputs are float
            )
    manifest = {
        "source": str(model_dir),
        "source_sha256": weights_sha256(model_dir),
        "recipe": RECIPE,
        "onnxruntime": onnxruntime.__version__,
        "torch": torch.__version__,
        "inputs": names,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return target


@contextmanager
def _quiet_root_logger():
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # and a WARNING advising shape pre-processing we don't need
    try:
        yield
    finally:
        root.setLevel(level)


def ensure_exported(model_dir: Path, cache_root: Path) -> Path:
    """The int8 export of ``model_dir`` under ``cache_root``; made now if missing or from other weights."""
    where = hashlib.sha256(str(model_dir.resolve()).encode()).hexdigest()[:8]  # two dirs named "model"
    target = cache_root / f"{model_dir.name}-{where}-{BACKEND}"
    manifest = target / MANIFEST
    sha = weights_sha256(model_dir)
    if manifest.is_file() and (target / GRAPH).is_file():
        recorded = json.loads(manifest.read_text())
        if recorded.get("source_sha256") == sha and recorded.get("recipe") == RECIPE:
            return target
        log.info("re-exporting %s: its weights or the export recipe changed", model_dir.name)
    log.info("exporting %s to ONNX int8 under %s (once; about half a minute)", model_dir.name, target)
    with tempfile.TemporaryDirectory(dir=cache_root.parent if cache_root.parent.exists() else None) as tmp:
        export_int8(model_dir, Path(tmp) / "export")
        shutil.rmtree(target, ignore_errors=True)
        cache_root.mkdir(parents=True, exist_ok=True)
        shutil.move(str(Path(tmp) / "export"), target)  # whole folder or nothing
    return target


class OnnxTokenEmbeddings(InputModule):
    """A sentence-transformers input module: the model's own tokenizer, token embeddings from ONNX Runtime."""

    def __init__(self, transformer: InputModule, graph: Path, threads: int) -> None:
        import onnxruntime

        super().__init__()
        self.tokenizer = transformer.tokenizer
        self.max_seq_length = transformer.max_seq_length
        self._preprocess = transformer.preprocess  # same truncation and special tokens as the torch path
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]

    def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs) -> dict[str, Any]:
        return self._preprocess(inputs, prompt=prompt, **kwargs)

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        feeds = {name: features[name].cpu().numpy().astype(np.int64) for name in self._inputs}
        (hidden,) = self._session.run(None, feeds)
        features["token_embeddings"] = torch.from_numpy(hidden)
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return int(self._session.get_outputs()[0].shape[-1])

    def save(self, output_path: str, *args, **kwargs) -> None:
        raise NotImplementedError("save the source model; the int8 export is a cache made from it")


def load_int8(model_dir: Path, cache_root: Path) -> SentenceTransformer:
    """A ``SentenceTransformer`` for ``model_dir`` whose transformer runs as the int8 ONNX export."""
    graph = ensure_exported(model_dir, cache_root) / GRAPH
    source = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    modules = [OnnxTokenEmbeddings(source[0], graph, torch.get_num_threads())]
    modules += [source[i] for i in range(1, len(source))]
    return SentenceTransformer(modules=modules, device="cpu")
