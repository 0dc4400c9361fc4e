"""Probes: one small class per measurement, run by the trainer every `probe_every` steps.

Files by subject: base (ProbeContext, the Probe base, batch helpers), gradients (histograms of
log10 |g|), weights (norms, update ratios), spectra (W_h per gate), jacobian (the state
Jacobian ds_t/ds_{t-1}, every cell), reach (||dL_T/dh_t|| back through time), activations
(saturation, dead units, logits). `from engine.probes import ...`
reaches every public name.

Each probe class declares the series it records (`series`, engine/series.py) and names them
with `Series.at(...)`. Probes never plot or print, leave no hooks, never retain_grad and never
touch a parameter's .grad. Do not call them under torch.inference_mode: the reach probe needs
autograd.

Measured cost, LSTM H=128, T=64, B=32, vocab 65, one CPU thread, against a 12 ms training
step: spectrum 28-33 ms (four 128 x 128 gate blocks: about 2.5 steps), gradient reach 13 ms
on 8 sequences (18 ms on 16), gradient histograms 0.6 ms, hidden 0.6 ms, output 0.35 ms,
weights 0.2 ms; about 3.9 training steps in all. Every probe is a split probe (SplitProbe):
the training thread takes copies (the weights once a step for all of them, the gradients,
references to a few hidden states) and a probe worker thread (engine/probes/worker.py) does
the rest. The trainer's ProbeBudget keeps the copies within the light tier's share of the
training time; the heavy tier's analyses (the state Jacobian, gradient reach) are charged to
its share though the worker runs them, so they cost the machine what they cost inline and the
training thread does not wait for them (engine/probes/runner.py).
"""

from engine.probes.activations import SATURATED, HiddenProbe, OutputProbe
from engine.probes.base import Probe, ProbeContext, SplitProbe, first_sequences, real_positions
from engine.probes.gradients import GRAD_HIST_EDGES, GradHistogramProbe, log_histogram
from engine.probes.jacobian import JacobianProbe, layer_jacobians, sample_times, step_jacobian
from engine.probes.reach import REACH_FLOOR, REACH_SEQUENCES, GradientReachProbe, reach_series, step_norms
from engine.probes.spectra import SpectrumProbe, spectrum
from engine.probes.weights import WeightProbe

# every probe class, in the order they run (light ones first: split probes are light, their analysis is the worker's)
PROBES = (GradHistogramProbe, HiddenProbe, OutputProbe, WeightProbe, SpectrumProbe, JacobianProbe, GradientReachProbe)


def default_probes(cfg) -> list[Probe]:
    """Every probe the dashboard charts (none when probe_every is 0)."""
    if cfg.probe_every == 0:
        return []
    return [probe() for probe in PROBES]


__all__ = [
    "GRAD_HIST_EDGES",
    "PROBES",
    "REACH_FLOOR",
    "REACH_SEQUENCES",
    "SATURATED",
    "GradHistogramProbe",
    "GradientReachProbe",
    "HiddenProbe",
    "JacobianProbe",
    "OutputProbe",
    "Probe",
    "ProbeContext",
    "SpectrumProbe",
    "SplitProbe",
    "WeightProbe",
    "default_probes",
    "first_sequences",
    "layer_jacobians",
    "log_histogram",
    "real_positions",
    "reach_series",
    "sample_times",
    "spectrum",
    "step_jacobian",
    "step_norms",
]
