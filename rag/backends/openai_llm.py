"""``LLM`` on any OpenAI-compatible chat server — vLLM in production and in the tests.

vLLM serves the base model and every loaded LoRA adapter under their own names in ``/v1/models``; the
request's ``model`` field picks one, so an adapter is selected per request without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from rag.errors import BackendUnavailable, InvalidQuestion
from rag.protocols import ChatMessage

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

UNSCORED = -100.0  # the mean log-probability given when no token of the continuation came back
_CONTEXT_ERRORS = ("maximum context length", "context length", "too long", "max_model_len")


class OpenAICompatibleLLM:
    def __init__(
        self,
        base_url: str,
        api_key: str = "EMPTY",
        model: str | None = None,
        max_tokens: int = 384,
        temperature: float = 0.0,
        timeout_s: float = 120.0,
    ) -> None:
        import openai

        self.base_url = base_url
        self._api_key = api_key
        self._model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=1)

    @classmethod
    def from_settings(cls, settings) -> OpenAICompatibleLLM:
        cfg = settings.llm
        return cls(
            base_url=cfg.base_url,
            api_key=cfg.api_key.get_secret_value(),
            model=cfg.model,
            max_tokens=cfg.max_tokens,
            temperature=cfg.temperature,
            timeout_s=cfg.timeout_s,
        )

    def served_models(self) -> list[dict]:
        """``/v1/models`` entries: the base model first, then LoRA adapters (with a ``parent``)."""
        import openai

        try:
            return [m.model_dump() for m in self._client.models.list().data]
        except openai.APIConnectionError as err:
            raise BackendUnavailable(f"the LLM server at {self.base_url} is unreachable ({err})") from err

    def model_id(self, adapter: str | None = None) -> str:
        if adapter:
            return adapter
        if self._model is None:
            models = self.served_models()
            bases = [m["id"] for m in models if not m.get("parent")]
            if not bases:
                raise BackendUnavailable(f"the LLM server at {self.base_url} serves no model")
            self._model = bases[0]
        return self._model

    def sample_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        n: int,
        adapter: str | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.8,
        seed: int | None = None,
    ) -> list[str]:
        """``n`` completions in one request (vLLM samples them in one batch, sharing the prompt's
        prefill); ``seed`` makes the draw repeatable."""
        import openai

        model = self.model_id(adapter)
        try:
            resp = self._client.chat.completions.create(
                model=model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                max_tokens=max_tokens or self.max_tokens,
                temperature=temperature,
                n=n,
                seed=seed,
            )
        except openai.APIConnectionError as err:
            raise BackendUnavailable(f"the LLM server at {self.base_url} is unreachable ({err})") from err
        except openai.NotFoundError as err:
            raise BackendUnavailable(f"the LLM server does not serve model {model!r}: {err}") from err
        return [choice.message.content or "" for choice in sorted(resp.choices, key=lambda c: c.index)]

    def continuation_logprobs(self, prefixes: Sequence[str], continuation: str) -> list[float]:
        """The mean log-probability of ``continuation``'s tokens after each prefix, read from the prompt
        log-probabilities of one completions request (``echo``; the server batches the prompts).

        Which prompt tokens are the continuation's is read from the server's own tokenizer (vLLM's
        ``/tokenize``): the tokens past the longest run the prompt shares with its prefix alone, less any
        the two share at the end (a tokenizer that appends ``[SEP]``/EOS). A server without
        ``/tokenize`` gets the tokens whose text offset lies in the continuation."""
        import openai

        prompts = [prefix + continuation for prefix in prefixes]
        try:
            resp = self._client.completions.create(
                model=self.model_id(), prompt=prompts, max_tokens=1, temperature=0.0, echo=True, logprobs=0
            )
        except openai.APIConnectionError as err:
            raise BackendUnavailable(f"the LLM server at {self.base_url} is unreachable ({err})") from err
        except openai.BadRequestError as err:  # e.g. a passage too long for the context window
            raise BackendUnavailable(f"the LLM server could not score the passages: {err}") from err
        import httpx

        means = []
        choices = sorted(resp.choices, key=lambda c: c.index)
        headers = {"Authorization": f"Bearer {self._api_key}"}
        with httpx.Client(headers=headers, timeout=30) as http:  # one connection for every /tokenize
            spans = [
                self._continuation_span(http, prefix, prompt, len(choice.logprobs.token_logprobs) - 1)
                for prompt, prefix, choice in zip(prompts, prefixes, choices, strict=True)
            ]
        for prompt, prefix, choice, span in zip(prompts, prefixes, choices, spans, strict=True):
            lp = choice.logprobs
            if span is not None:
                tail = [v for v in lp.token_logprobs[span[0] : span[1]] if v is not None]
            else:  # by text offset: the echoed text is the prompt's for byte-level tokenizers
                tail = [
                    value
                    for offset, token, value in zip(lp.text_offset, lp.tokens, lp.token_logprobs, strict=True)
                    if value is not None and offset + len(token) > len(prefix) and offset < len(prompt)
                ]
            means.append(sum(tail) / len(tail) if tail else UNSCORED)
        return means

    def _continuation_span(
        self, http: httpx.Client, prefix: str, prompt: str, prompt_tokens: int
    ) -> tuple[int, int] | None:
        """[start, end) of the continuation's tokens in ``prompt``'s tokens, by the server's tokenizer;
        None when the server has no ``/tokenize`` or its count disagrees with the echoed prompt's."""
        import httpx

        url = self.base_url.rstrip("/").removesuffix("/v1") + "/tokenize"
        try:
            ids = [
                http.post(url, json={"model": self.model_id(), "prompt": text})
                .raise_for_status()
                .json()["tokens"]
                for text in (prefix, prompt)
            ]
        except (httpx.HTTPError, KeyError, ValueError):
            return None
        head, whole = ids
        if len(whole) != prompt_tokens:
            return None
        start = 0
        while start < min(len(head), len(whole)) and head[start] == whole[start]:
            start += 1
        shared_end = 0
        while shared_end < len(head) - start and head[-1 - shared_end] == whole[-1 - shared_end]:
            shared_end += 1
        return start, len(whole) - shared_end

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        adapter: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Iterator[str]:
        import openai

        model = self.model_id(adapter)
        try:
            stream = self._client.chat.completions.create(
                model=model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                max_tokens=max_tokens or self.max_tokens,
                temperature=self.temperature if temperature is None else temperature,
                stream=True,
            )
            for event in stream:
                if event.choices and event.choices[0].delta.content:
                    yield event.choices[0].delta.content
        except openai.APIConnectionError as err:
            raise BackendUnavailable(f"the LLM server at {self.base_url} is unreachable ({err})") from err
        except openai.NotFoundError as err:
            raise BackendUnavailable(f"the LLM server does not serve model {model!r}: {err}") from err
        except openai.BadRequestError as err:
            text = str(err).lower()
            if any(marker in text for marker in _CONTEXT_ERRORS):
                raise InvalidQuestion(
                    "the question and its sources do not fit the model's context window; "
                    "ask a shorter question or lower retrieval.top_k"
                ) from err
            raise
