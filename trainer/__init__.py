"""Training the cell rule: the quantization-aware NCA, its training loop, targets and evaluation (docs/cell-rule.md)."""
