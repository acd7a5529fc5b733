"""Generators of test and benchmark data (synthetic corpora, PII evaluation sets). Not part of the I/O layer:
nothing in the pipeline imports these."""
