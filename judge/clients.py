"""Model-backed judges: a chat judge on any OpenAI-compatible endpoint or on Amazon Bedrock (it writes its
reasoning and a ``<scoring>`` tag), and a log-probability judge for a small served model on CPU.

The log-probability judge asks for one token, a digit 0-5, and reads the probabilities of the six digit
tokens from ``top_logprobs``: the score is their expected value. One forward pass over the prompt and
one decoded token, so it costs about a prompt's prefill — no chain of thought to generate.
"""

from __future__ import annotations

import math

from judge.prompts import Judgement

LOGPROB_PROMPT_VERSION = "logprob-v1"
LOGPROB_REFERENCE = """Grade an answer against the correct reference answer.

Question: {question}
Reference answer: {reference}
Answer to grade: {answer}

The facts must agree: numbers, units, yes/no, names and conditions. Wording may differ.
Reply with one digit: 5 = same facts as the reference, 3 = partly right or missing a fact,
0 = wrong or contradicts the reference."""
LOGPROB_SOURCES = """Check whether an answer is supported by the sources it was written from.

Question: {question}
Sources:
{reference}

Answer to check: {answer}

Every number, name and claim in the answer must be stated in the sources.
Reply with one digit: 5 = fully supported, 3 = partly supported, 0 = unsupported or contradicted."""
_DIGITS = {str(d): float(d) for d in range(6)}


class OpenAIJudge:
    """A chat judge on an OpenAI-compatible endpoint (vLLM, OpenAI, ...)."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str = "EMPTY",
        *,
        max_tokens: int = 512,
        timeout_s: float = 120.0,
    ) -> None:
        import openai

        self.max_tokens = max_tokens
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s)
        # None: the server's first model (a vLLM serving only the judge)
        self.model_id = model or self._client.models.list().data[0].id

    def complete(self, prompt: str) -> str:
        resp = self._client.chat.completions.create(
            model=self.model_id,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=self.max_tokens,
            temperature=0.0,
        )
        return resp.choices[0].message.content or ""


class BedrockJudge:
    """A chat judge on Amazon Bedrock through the Converse API (e.g. an Anthropic or Mistral model id)."""

    def __init__(self, model: str, region: str | None = None, *, max_tokens: int = 512, client=None) -> None:
        import boto3

        self.model_id = model
        self.max_tokens = max_tokens
        self._client = client or boto3.client("bedrock-runtime", region_name=region)

    def request(self, prompt: str) -> dict:
        return {
            "modelId": self.model_id,
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": self.max_tokens, "temperature": 0.0},
        }

    def complete(self, prompt: str) -> str:
        resp = self._client.converse(**self.request(prompt))
        return "".join(part.get("text", "") for part in resp["output"]["message"]["content"])


def expected_digit(top_logprobs: dict[str, float]) -> float | None:
    """The expected score over the digit tokens 0-5 among the top alternatives (None: no digit)."""
    weights: dict[float, float] = {}
    for token, logprob in top_logprobs.items():
        value = _DIGITS.get(token.strip())
        if value is not None:
            weights[value] = weights.get(value, 0.0) + math.exp(logprob)
    total = sum(weights.values())
    if total <= 0.0:
        return None
    return sum(v * w for v, w in weights.items()) / total


class LogprobJudge:
    """Scores from the probabilities of the digit tokens 0-5 in a served chat model's first reply token."""

    prompt_version = LOGPROB_PROMPT_VERSION

    def __init__(
        self, base_url: str, model: str | None = None, api_key: str = "EMPTY", *, timeout_s: float = 60.0
    ) -> None:
        import openai

        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s)
        self.model_id = model or self._client.models.list().data[0].id

    def judge(self, question: str, reference: str, answer: str, basis: str) -> Judgement:
        template = LOGPROB_SOURCES if basis == "sources" else LOGPROB_REFERENCE
        prompt = template.format(question=question, reference=reference, answer=answer)
        resp = self._client.chat.completions.create(
            model=self.model_id,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=1,
            temperature=0.0,
            logprobs=True,
            top_logprobs=20,
        )
        content = resp.choices[0].logprobs.content if resp.choices[0].logprobs else None
        if not content:
            raise ValueError("the judge server returned no log-probabilities")
        top = {alt.token: alt.logprob for alt in content[0].top_logprobs}
        score = expected_digit(top)
        if score is None:
            raise ValueError(f"no digit among the judge's top tokens: {sorted(top)[:8]}")
        return Judgement(round(score, 2), f"{self.model_id} gives {score:.2f} (expected digit 0-5)")
