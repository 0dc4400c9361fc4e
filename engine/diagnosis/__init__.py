"""Diagnosis: rules that watch a run's live series and say what is going wrong and what to try.

    observers = observers_for(cfg)      # the JobManager and `python -m engine train` give these to every run

Each rule is an observer (engine/observer.py) that records at most one event of kind
"diagnosis" per run, or one per episode after a cooldown (base.py says what the event holds).
Its fix is derived from the run's own measurements and settings, and says how it is tried:
rerun from step 0 (a problem of the first steps, the init, the learning rate) or fork from the
step where the rule fired (a problem that shows late). Per-step work is O(1): a comparison or
two, and a median over a small ring buffer every few steps. Thresholds are named constants,
each with the reason for its value. By topic:

    start.py       perplexity above |V| in the first steps
    gradients.py   gradient spikes; NaN/Inf
    divergence.py  a finite loss far above the baseline for many steps (can end the run: stop_on_divergence)
    schedule.py    a learning-rate schedule that cut until progress stalled
    memory.py      saturated or dead units; a gradient that reaches only a few steps back
    fit.py         curves parting; training pulling away from validation
    timer.py       not a rule: StepTimer records each step's wall time

tests/test_diagnosis_lessons.py holds the table of which rule fires on which lesson run.
"""

from __future__ import annotations

from engine.diagnosis.base import Rule, nice
from engine.diagnosis.divergence import LossFarAboveBaseline
from engine.diagnosis.fit import Overfitting, PartingCurves
from engine.diagnosis.gradients import GradientSpike, NonFinite
from engine.diagnosis.memory import Saturation, ShortReach
from engine.diagnosis.schedule import PlateauAfterCut
from engine.diagnosis.start import PerplexityAboveUniform
from engine.diagnosis.timer import STEP_MS, StepTimer

__all__ = ["RULES", "RULE_IDS", "SERIES", "GradientSpike", "LossFarAboveBaseline", "NonFinite", "Overfitting",
           "PartingCurves", "PerplexityAboveUniform", "PlateauAfterCut", "Rule", "Saturation", "ShortReach", "StepTimer",
           "nice", "observers_for"]

SERIES = (STEP_MS,)
RULES = (PerplexityAboveUniform, GradientSpike, NonFinite, LossFarAboveBaseline, PlateauAfterCut, Saturation,
         ShortReach, PartingCurves, Overfitting)
RULE_IDS = {rule.id: rule for rule in RULES}


def observers_for(cfg) -> list:
    """Fresh rule instances for one run, and its step timer."""
    return [rule() for rule in RULES] + [StepTimer()]
