"""The feedback log: every answer with what produced it, and the user's rating, note and correction.

Born in the app, stored in a ``FeedbackStore`` (SQLite by default, DynamoDB in production), protected
by a local spool while a store is down, and exported as versioned JSONL/Parquet for training.
"""
