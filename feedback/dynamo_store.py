"""``FeedbackStore`` on Amazon DynamoDB (or DynamoDB Local), through boto3.

Table design (on-demand billing), one item per answer keyed by ``feedback_id``:

| index        | partition key          | sort key     | serves                              |
|--------------|------------------------|--------------|-------------------------------------|
| table        | feedback_id            | -            | put / get (idempotent upsert)       |
| by_time      | month (``YYYY-MM``)    | updated_at   | export and stats by time range      |
| by_adapter   | adapter_key            | updated_at   | per-adapter dashboards and exports  |
| by_session   | session_id             | turn         | restoring a chat session            |
| by_review    | review_state           | updated_at   | the expert review queue             |
| by_user      | user_id                | updated_at   | a signed-in user's chats, dashboard |

A table made before ``by_user`` existed gets it on open (UpdateTable), and its records without a user
become the local user's (``LOCAL_USER_ID``), as the SQLite store's migration does.

Month buckets spread writes over partitions while a time-range query touches one partition per month.
Each put is conditional (``updated_at`` must not go backwards), so a replay from the spool can never
overwrite a newer version. Retries use botocore's standard mode; connection failures raise
``StoreUnavailable`` so the caller can spool the record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from feedback.errors import StoreUnavailable
from feedback.protocols import (
    FeedbackQuery,
    FeedbackStats,
    SessionSummary,
    compute_stats,
    summarize_sessions,
)
from feedback.schema import LOCAL_USER_ID, FeedbackRecord

log = logging.getLogger(__name__)

_UNAVAILABLE_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "ResourceNotFoundException",
}
_GSIS = {
    "by_time": ("month", "S", "updated_at", "S"),
    "by_adapter": ("adapter_key", "S", "updated_at", "S"),
    "by_session": ("session_id", "S", "turn", "N"),
    "by_review": ("review_state", "S", "updated_at", "S"),
    "by_user": ("user_id", "S", "updated_at", "S"),
}


def _gsi(index: str) -> dict[str, Any]:
    pk, _, sk, _ = _GSIS[index]
    return {
        "IndexName": index,
        "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"},
    }


def _gsi_attributes(index: str) -> list[dict[str, str]]:
    pk, pk_type, sk, sk_type = _GSIS[index]
    return [{"AttributeName": pk, "AttributeType": pk_type}, {"AttributeName": sk, "AttributeType": sk_type}]


def table_definition(name: str) -> dict[str, Any]:
    attributes = {"feedback_id": "S"}
    indexes = []
    for index, (pk, pk_type, sk, sk_type) in _GSIS.items():
        attributes[pk], attributes[sk] = pk_type, sk_type
        indexes.append(_gsi(index))
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "feedback_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": t} for k, t in attributes.items()],
        "GlobalSecondaryIndexes": indexes,
    }


def months_between(since: str, until: str | None) -> list[str]:
    start = datetime.fromisoformat(since).astimezone(UTC)
    end = datetime.fromisoformat(until).astimezone(UTC) if until else datetime.now(UTC)
    months, (y, m) = [], (start.year, start.month)
    while (y, m) <= (end.year, end.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


class DynamoFeedbackStore:
    def __init__(
        self,
        table: str,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        create_table: bool = True,
        max_attempts: int = 3,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 5.0,
        session: Any = None,
    ) -> None:
        from core.aws import boto3_client

        self.table_name = table
        self._client = boto3_client(
            "dynamodb",
            region,
            endpoint_url,
            max_attempts=max_attempts,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            session=session,
        )
        self._create = create_table
        self._ready = False

    @classmethod
    def from_settings(cls, settings) -> DynamoFeedbackStore:
        cfg = settings.feedback.dynamodb
        return cls(cfg.table, create_table=cfg.create_table, **cfg.client_options())

    # -- plumbing ----------------------------------------------------------------------------
    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return getattr(self._client, operation)(**kwargs)
        except NoCredentialsError as err:  # spooled like an outage, but named for what it is
            raise StoreUnavailable(
                "no AWS credentials for DynamoDB (set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, or use an instance role)"
            ) from err
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in _UNAVAILABLE_CODES:
                raise StoreUnavailable(f"DynamoDB table {self.table_name!r} is unavailable ({code})") from err
            raise
        except BotoCoreError as err:  # endpoint unreachable, timeouts, closed connections
            raise StoreUnavailable(f"DynamoDB is unreachable: {err}") from err

    def ensure_table(self) -> None:
        if self._ready:
            return
        from botocore.exceptions import ClientError

        try:
            table = self._call("describe_table", TableName=self.table_name)["Table"]
            if "by_user" not in {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}:
                self._add_user_index()
        except StoreUnavailable as err:
            cause = err.__cause__
            missing = (
                isinstance(cause, ClientError)
                and cause.response["Error"]["Code"] == "ResourceNotFoundException"
            )
            if not (missing and self._create):
                raise
            log.info("creating DynamoDB table %s", self.table_name)
            try:
                self._call("create_table", **table_definition(self.table_name))
            except ClientError as create_err:
                if create_err.response["Error"]["Code"] != "ResourceInUseException":
                    raise
            self._client.get_waiter("table_exists").wait(
                TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        self._ready = True

    def _add_user_index(self) -> None:
        """Migrate a table from before sign-in: records without a user become the local user's, then
        the ``by_user`` index is added (DynamoDB back-fills it) and awaited."""
        log.info("adding the by_user index to DynamoDB table %s", self.table_name)
        for item in self._paginate("scan", {"TableName": self.table_name}):
            if "user_id" in item:
                continue
            record = FeedbackRecord.model_validate_json(item["record"]["S"])
            owned = record.model_copy(update={"user_id": record.user_id or LOCAL_USER_ID})
            self._call(
                "update_item",
                TableName=self.table_name,
                Key={"feedback_id": item["feedback_id"]},
                UpdateExpression="SET user_id = :u, #r = :r",
                ConditionExpression="updated_at = :t",  # a newer write already carries its user
                ExpressionAttributeNames={"#r": "record"},
                ExpressionAttributeValues={
                    ":u": {"S": owned.user_id},
                    ":r": {"S": owned.model_dump_json()},
                    ":t": item["updated_at"],
                },
            )
        self._call(
            "update_table",
            TableName=self.table_name,
            AttributeDefinitions=_gsi_attributes("by_user"),
            GlobalSecondaryIndexUpdates=[{"Create": _gsi("by_user")}],
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            table = self._call("describe_table", TableName=self.table_name)["Table"]
            status = {i["IndexName"]: i["IndexStatus"] for i in table.get("GlobalSecondaryIndexes", [])}
            if status.get("by_user") == "ACTIVE":
                return
            time.sleep(0.5)
        raise StoreUnavailable(f"the by_user index of {self.table_name!r} did not become active in 120 s")

    # -- FeedbackStore -----------------------------------------------------------------------
    def put(self, record: FeedbackRecord) -> bool:
        return self._conditional_put(
            record, "attribute_not_exists(feedback_id) OR updated_at <= :u", lambda r: r.updated_at
        )

    def put_if_unchanged(self, record: FeedbackRecord, expected_updated_at: str) -> bool:
        expected = FeedbackRecord.model_validate(
            {**record.to_row(), "updated_at": expected_updated_at}
        ).updated_at
        return self._conditional_put(record, "updated_at = :u", lambda _: expected)

    def _conditional_put(self, record: FeedbackRecord, condition: str, value) -> bool:
        """PutItem under ``condition`` on ``:u`` = ``value(record)``; False when the condition fails."""
        from botocore.exceptions import ClientError

        record = FeedbackRecord.model_validate(record.to_row())  # re-validate at the boundary
        self.ensure_table()
        item: dict[str, Any] = {
            "feedback_id": {"S": record.feedback_id},
            "session_id": {"S": record.session_id},
            "turn": {"N": str(record.turn)},
            "created_at": {"S": record.created_at},
            "updated_at": {"S": record.updated_at},
            "month": {"S": record.updated_at[:7]},
            "adapter_key": {"S": record.adapter_key},
            "review_state": {"S": record.review_state},
            "record": {"S": record.model_dump_json()},
        }
        if record.rating is not None:
            item["rating"] = {"N": str(record.rating)}
        if record.user_id is not None:
            item["user_id"] = {"S": record.user_id}
        try:
            self._call(
                "put_item",
                TableName=self.table_name,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues={":u": {"S": value(record)}},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False  # a newer version is already stored, or (compare-and-set) another one
            raise
        return True

    def get(self, feedback_id: str) -> FeedbackRecord | None:
        self.ensure_table()
        resp = self._call(
            "get_item",
            TableName=self.table_name,
            Key={"feedback_id": {"S": feedback_id}},
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return FeedbackRecord.model_validate_json(item["record"]["S"]) if item else None

    def _query(self, index: str, key: str, value: dict, sk_range: tuple | None = None) -> Iterator[dict]:
        names = {"#pk": key}
        values = {":pk": value}
        condition = "#pk = :pk"
        if sk_range:
            sk, lo, hi = sk_range
            names["#sk"] = sk
            if lo is not None and hi is not None:
                condition += " AND #sk BETWEEN :lo AND :hi"
                values.update({":lo": {"S": lo}, ":hi": {"S": hi}})
            elif lo is not None:
                condition += " AND #sk >= :lo"
                values[":lo"] = {"S": lo}
            elif hi is not None:
                condition += " AND #sk <= :hi"
                values[":hi"] = {"S": hi}
            else:
                names.pop("#sk")
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        yield from self._paginate("query", kwargs)

    def _paginate(self, operation: str, kwargs: dict[str, Any]) -> Iterator[dict]:
        while True:
            resp = self._call(operation, **kwargs)
            yield from resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _items(self, q: FeedbackQuery) -> Iterator[dict]:
        time_range = ("updated_at", q.since, q.until)
        if q.session_id is not None:
            return self._query("by_session", "session_id", {"S": q.session_id})
        if q.user_id is not None:
            return self._query("by_user", "user_id", {"S": q.user_id}, time_range)
        if q.adapter is not None:
            return self._query("by_adapter", "adapter_key", {"S": q.adapter}, time_range)
        if q.review_state is not None:
            return self._query("by_review", "review_state", {"S": q.review_state}, time_range)
        if q.since is not None:
            return (
                item
                for month in months_between(q.since, q.until)
                for item in self._query("by_time", "month", {"S": month}, time_range)
            )
        return self._paginate("scan", {"TableName": self.table_name})

    def list(self, query: FeedbackQuery | None = None) -> Iterator[FeedbackRecord]:
        q = query or FeedbackQuery()
        self.ensure_table()
        records = [FeedbackRecord.model_validate_json(item["record"]["S"]) for item in self._items(q)]
        records = [r for r in records if _matches(r, q)]
        records.sort(key=lambda r: (r.updated_at, r.feedback_id))
        yield from records

    def sessions(self, limit: int = 50, user_id: str | None = None) -> list[SessionSummary]:
        return summarize_sessions(self.list(FeedbackQuery(user_id=user_id)), limit)

    def stats(self, query: FeedbackQuery | None = None) -> FeedbackStats:
        return compute_stats(self.list(query))

    def ping(self) -> None:
        self.ensure_table()
        self._call("describe_table", TableName=self.table_name)

    def close(self) -> None:
        self._client.close()


def _matches(r: FeedbackRecord, q: FeedbackQuery) -> bool:
    """Filters an index cannot apply (the until bound is exclusive, like SQLite's)."""
    return (
        (q.since is None or r.updated_at >= q.since)
        and (q.until is None or r.updated_at < q.until)
        and (q.adapter is None or r.adapter_key == q.adapter)
        and (q.session_id is None or r.session_id == q.session_id)
        and (q.review_state is None or r.review_state == q.review_state)
        and (not q.rated_only or r.rating is not None)
        and (q.user_id is None or r.user_id == q.user_id)
    )
