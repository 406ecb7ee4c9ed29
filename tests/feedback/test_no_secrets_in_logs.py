"""No credentials in logs: the DynamoDB path at DEBUG level never prints the secret key, and settings
hide secrets in their repr."""

from __future__ import annotations

import logging

from core.settings import Settings
from feedback.dynamo_store import DynamoFeedbackStore
from tests.feedback.conftest import make_record

SECRET = "s3cr3t-Very-Private-Key-0000"


def test_debug_logs_of_a_dynamodb_round_trip_hold_no_secret(dynamodb_local, monkeypatch, caplog):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    store = DynamoFeedbackStore("secrets-test", endpoint_url=dynamodb_local.endpoint_url)
    record = make_record(rating=5)
    store.put(record)
    assert store.get(record.feedback_id) == record
    store.close()
    assert caplog.records, "debug logging should have produced records"
    assert SECRET not in caplog.text


def test_settings_repr_hides_passwords_and_keys():
    s = Settings(llm={"api_key": SECRET}, vector_store={"opensearch": {"password": SECRET}})
    assert SECRET not in repr(s) and SECRET not in str(s.model_dump())
