"""Talk to a running vLLM server's admin surface: list served models, load and unload LoRA adapters at
runtime (``VLLM_ALLOW_RUNTIME_LORA_UPDATING``), and run a smoke prompt against one of them."""

from __future__ import annotations

import httpx

from core.errors import RagloopError


class ServerError(RagloopError):
    """The vLLM server refused or could not be reached."""


class VLLMAdmin:
    def __init__(self, base_url: str, api_key: str = "EMPTY", timeout_s: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self._client = httpx.Client(timeout=timeout_s, headers={"Authorization": f"Bearer {api_key}"})

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return self._client.request(method, f"{self.base_url}{path}", **kwargs)
        except httpx.HTTPError as err:
            raise ServerError(f"the vLLM server at {self.base_url} is unreachable ({err})") from err

    def models(self) -> list[dict]:
        resp = self._request("GET", "/models")
        resp.raise_for_status()
        return resp.json()["data"]

    def served_adapters(self) -> set[str]:
        return {m["id"] for m in self.models() if m.get("parent")}

    def base_model(self) -> str:
        bases = [m["id"] for m in self.models() if not m.get("parent")]
        if not bases:
            raise ServerError("the vLLM server serves no base model")
        return bases[0]

    def load(self, lora_name: str, lora_path: str) -> None:
        resp = self._request(
            "POST", "/load_lora_adapter", json={"lora_name": lora_name, "lora_path": lora_path}
        )
        if resp.status_code != 200:
            raise ServerError(f"vLLM refused to load {lora_name!r}: {_detail(resp)}")

    def unload(self, lora_name: str) -> None:
        resp = self._request("POST", "/unload_lora_adapter", json={"lora_name": lora_name})
        if resp.status_code not in (200, 404):
            raise ServerError(f"vLLM refused to unload {lora_name!r}: {_detail(resp)}")

    def smoke(self, model: str, prompt: str = "Say hello.", max_tokens: int = 8) -> str:
        resp = self._request(
            "POST",
            "/chat/completions",
            json={
                "model": model,
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens,
                "temperature": 0.0,
            },
        )
        if resp.status_code != 200:
            raise ServerError(f"smoke prompt against {model!r} failed: {_detail(resp)}")
        body = resp.json()
        if body.get("model") != model or not body.get("choices"):
            raise ServerError(f"smoke prompt against {model!r} was answered by {body.get('model')!r}")
        return body["choices"][0]["message"]["content"] or ""

    def close(self) -> None:
        self._client.close()


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}: {resp.text[:300]}"
    message = body.get("message") or body.get("detail") or body.get("error") or body
    if isinstance(message, dict):
        message = message.get("message", message)
    return f"HTTP {resp.status_code}: {message}"
