"""Validation of a synthetic run: the paper's published numbers, the scorecard and the bias
budget (synthetic source only; reads the world's truth, never feeds a table)."""
