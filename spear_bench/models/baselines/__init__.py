"""Baseline encoders (WavLM, Dasheng, USAD): each registers its ModelBundle here."""
