"""The production adapter registry: versions and serving state in an S3 bucket (boto3).

Same layout and semantics as the local registry, under ``s3://<bucket>/<prefix>/``:

    <prefix>/<name>/v<N>/...       the adapter's files; ``manifest.json`` is written first, with
                                   ``If-None-Match: *``, and is the claim on the version number
    <prefix>/state.json            the serving state, changed only by conditional puts
                                   (``If-Match: <etag>``, or ``If-None-Match: *`` when it is new)

S3 conditional writes make both race-free without a lock service: two publishers can never claim one
version, and a state change written over another one is refused and re-applied to the fresh state.

vLLM loads adapters from a local directory, so ``path`` downloads a version once into the cache
directory (``registry.cache_dir``; it must be visible to the vLLM process, e.g. a volume both mount)
and renames it into place whole: a half-downloaded version is never loaded. Versions are immutable,
so a cached copy never goes stale.
"""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from core.manifest import MANIFEST_FILE, AdapterManifest
from serving.registry import (
    AdapterState,
    RegistryError,
    ServingState,
    adapter_files,
    claim_next_version,
    version_numbers,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


def _code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


class S3AdapterRegistry:
    def __init__(
        self,
        bucket: str,
        prefix: str,
        cache_dir: Path | str,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        create_bucket: bool = False,
        max_attempts: int = 5,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        update_attempts: int = 20,
        session: Any = None,
    ) -> None:
        from core.aws import boto3_client

        if not bucket:
            raise RegistryError("registry.kind is s3 but no bucket is set (RAGLOOP_REGISTRY__S3__BUCKET)")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.cache_dir = Path(cache_dir)
        self.update_attempts = update_attempts
        self._client = boto3_client(
            "s3",
            region,
            endpoint_url,
            max_attempts=max_attempts,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            session=session,
        )
        if create_bucket:
            self._ensure_bucket(region)

    @classmethod
    def from_settings(cls, settings) -> S3AdapterRegistry:
        cfg = settings.registry.s3
        return cls(
            cfg.bucket,
            cfg.prefix,
            settings.adapter_cache_dir,
            create_bucket=cfg.create_bucket,
            **cfg.client_options(),
        )

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def __repr__(self) -> str:
        return f"S3AdapterRegistry({self.location})"

    # -- plumbing ------------------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One S3 call; unreachable endpoints and access problems become a RegistryError."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return getattr(self._client, operation)(Bucket=self.bucket, **kwargs)
        except NoCredentialsError as err:
            raise RegistryError(
                f"no AWS credentials for the S3 registry s3://{self.bucket} (set AWS_PROFILE or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use an instance role)"
            ) from err
        except ClientError as err:
            code = _code(err)
            if code in CONFLICT_CODES or code in MISSING_CODES:
                raise  # the caller handles these
            raise RegistryError(f"S3 {operation} on s3://{self.bucket} failed: {code or err}") from err
        except BotoCoreError as err:
            raise RegistryError(f"S3 registry s3://{self.bucket} is unreachable: {err}") from err

    def _ensure_bucket(self, region: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("head_bucket")
        except (ClientError, RegistryError):
            location = {"CreateBucketConfiguration": {"LocationConstraint": region}}
            self._call("create_bucket", **({} if region == "us-east-1" else location))

    def _list(self, prefix: str, delimiter: str | None = None) -> tuple[list[dict], list[str]]:
        """(objects, common prefixes) under ``prefix``, all pages."""
        objects, prefixes, token = [], [], None
        while True:
            kwargs: dict[str, Any] = {"Prefix": prefix}
            if delimiter:
                kwargs["Delimiter"] = delimiter
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("list_objects_v2", **kwargs)
            objects += page.get("Contents", [])
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            if not page.get("IsTruncated"):
                return objects, prefixes
            token = page["NextContinuationToken"]

    # -- state ---------------------------------------------------------------------------------
    def _read_state(self) -> tuple[ServingState, str | None]:
        from botocore.exceptions import ClientError

        try:
            obj = self._call("get_object", Key=self.key("state.json"))
        except ClientError as err:
            if _code(err) in MISSING_CODES:
                return ServingState(), None
            raise
        return ServingState.model_validate_json(obj["Body"].read()), obj["ETag"]

    def state(self) -> ServingState:
        return self._read_state()[0]

    def save_state(self, state: ServingState) -> None:
        """Overwrite the state unconditionally (set-up and repair; publishing uses ``update``)."""
        self._call("put_object", Key=self.key("state.json"), Body=state.model_dump_json(indent=2).encode())

    def update(self, change: Callable[[ServingState], T]) -> T:
        from botocore.exceptions import ClientError

        for attempt in range(self.update_attempts):
            state, etag = self._read_state()
            result = change(state)
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self._call(
                    "put_object",
                    Key=self.key("state.json"),
                    Body=state.model_dump_json(indent=2).encode(),
                    **condition,
                )
                return result
            except ClientError as err:
                if _code(err) not in CONFLICT_CODES:
                    raise
                log.debug("state.json changed underneath (attempt %d); re-applying", attempt + 1)
                time.sleep(random.uniform(0, 0.05 * (attempt + 1)))
        raise RegistryError(
            f"could not update s3://{self.bucket}/{self.key('state.json')}: it kept changing "
            f"underneath ({self.update_attempts} attempts)"
        )

    # -- versions ------------------------------------------------------------------------------
    def versions(self, name: str) -> list[int]:
        """Every claimed version of ``name``, published or not."""
        _, prefixes = self._list(self.key(name) + "/", delimiter="/")
        return version_numbers(p.rstrip("/").rsplit("/", 1)[-1] for p in prefixes)

    def add(self, adapter_dir: Path, name: str) -> int:
        from botocore.exceptions import ClientError

        adapter_dir = Path(adapter_dir)
        manifest = (adapter_dir / MANIFEST_FILE).read_bytes()

        def claim(version: int) -> bool:  # the manifest, written only if absent, is the claim
            key = self.key(name, f"v{version}", MANIFEST_FILE)
            try:
                self._call("put_object", Key=key, Body=manifest, IfNoneMatch="*")
            except ClientError as err:
                if _code(err) not in CONFLICT_CODES:
                    raise
                return False
            return True

        published = self.state().adapters.get(name, AdapterState()).versions
        version = claim_next_version([*self.versions(name), *published], claim)
        for relative in adapter_files(adapter_dir):
            if relative.as_posix() == MANIFEST_FILE:
                continue
            key = self.key(name, f"v{version}", relative.as_posix())
            try:
                self._client.upload_file(str(adapter_dir / relative), self.bucket, key)
            except Exception as err:  # boto3's transfer manager wraps errors in its own types
                raise RegistryError(f"uploading {relative} to s3://{self.bucket}/{key}: {err}") from err
        return version

    def manifest(self, name: str, version: int) -> AdapterManifest:
        from botocore.exceptions import ClientError

        try:
            obj = self._call("get_object", Key=self.key(name, f"v{version}", MANIFEST_FILE))
        except ClientError as err:
            if _code(err) in MISSING_CODES:
                where = f"s3://{self.bucket}/{self.key(name, f'v{version}')}"
                raise FileNotFoundError(f"{where} has no manifest") from None
            raise
        return AdapterManifest.model_validate_json(obj["Body"].read())

    def path(self, name: str, version: int) -> Path:
        """The version's local copy in the cache directory, downloaded whole on first use."""
        target = self.cache_dir / self.bucket / self.prefix / name / f"v{version}"
        if target.is_dir():
            return target
        prefix = self.key(name, f"v{version}") + "/"
        objects, _ = self._list(prefix)
        if not objects:
            raise FileNotFoundError(f"s3://{self.bucket}/{prefix} holds no adapter")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".v{version}-"))
        try:
            for obj in objects:
                local = partial / obj["Key"][len(prefix) :]
                local.parent.mkdir(parents=True, exist_ok=True)
                self._client.download_file(self.bucket, obj["Key"], str(local))
            partial.rename(target)  # atomic; fails if another process finished first
        except OSError:
            if not target.is_dir():
                raise
        except Exception as err:
            raise RegistryError(f"downloading s3://{self.bucket}/{prefix} failed: {err}") from err
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return target
