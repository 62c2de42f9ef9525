"""The stop engine: one module per strategy, the re-delivery loop (redeliver.py), the ladder and its report."""
