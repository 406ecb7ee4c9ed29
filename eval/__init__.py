"""Evaluation: does the loop make the assistant better? Eval sets (JSONL) in, metrics JSON and reports
out, keyed by model/adapter; a gate that stops a worse adapter from going live."""
