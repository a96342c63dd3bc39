"""Validation: the paper's published numbers and the scorecard (on any data; against the
world's truth too on a synthetic run), the bias budget and the oracle tables (synthetic
source only; they read the world's truth). Nothing here feeds a table."""
