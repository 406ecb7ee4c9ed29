"""Retrieval-augmented answering: ingest documents, retrieve chunks, generate cited answers.

Knows nothing about feedback storage or training; it hands out ``Answer`` records with a ``Trace``.
"""
