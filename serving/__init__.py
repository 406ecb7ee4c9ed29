"""Serving: the adapter registry, publishing adapters into a running vLLM without a restart, and the
per-session routing between the base model and adapters. Reads adapter directories with a manifest;
imports nothing from training."""
