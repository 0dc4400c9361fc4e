"""RNN Lab's engine. `from engine import watch` records your own training loop (engine/watch/)."""

from engine.watch import watch

__all__ = ["watch"]
