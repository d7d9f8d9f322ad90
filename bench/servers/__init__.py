"""Baseline HTTP servers measured beside the service (naive PyTorch, TF-IDF + LR)."""
