"""The cell rule: quantization-aware trainer, exact integer model, model files (docs/cell-rule.md)."""
