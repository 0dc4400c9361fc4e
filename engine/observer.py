"""Observer: the Trainer's extension point, a documented no-op base (after Lightning's Callback).

A run's observers (the diagnosis rules, the step timer, anything a caller adds) subclass it
and override only the moments they need. The Trainer calls every moment on every observer,
one way, in the order the list gives:

    on_fit_start(trainer)                  model, data, optimiser built; before the first step
    on_step_end(trainer, step, scalars)    after each update, with the step's records
    on_probe(trainer, step, measured)      on probe steps, with the probes' measurements
    on_eval(trainer, step, values)         after each evaluation (val/*, window/*, plateau/*)
    on_fit_end(trainer, status)            once, when the run ends (done, stopped, diverged, failed)

Observers may read the trainer and write to its store; they never change the model.
"""

from __future__ import annotations


class Observer:
    """Watches one run. Every moment is a no-op here."""

    def on_fit_start(self, trainer) -> None:
        """Called once the run's task, model and optimiser exist, before the first step."""

    def on_step_end(self, trainer, step: int, scalars: dict) -> None:
        """Called after each update (step = the update's index), with the step's recorded scalars."""

    def on_probe(self, trainer, step: int, measured: dict) -> None:
        """Called on probe steps with the probes' measurements (floats and arrays)."""

    def on_eval(self, trainer, step: int, values: dict) -> None:
        """Called after each evaluation with its values (val/*, window/*, plateau/*)."""

    def on_fit_end(self, trainer, status: str) -> None:
        """Called once when the run ends: done, stopped, diverged or failed."""
