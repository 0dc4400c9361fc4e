"""Record your own PyTorch training loop into RNN Lab's run store, with the engine's probes.

    from engine import watch          # or: from engine.watch import watch
    with watch(model, optimizer, name="my lstm", config={"lr": 3e-3}) as rec:
        for x, y in batches:
            ...; loss.backward()
            rec.after_backward(loss)  # gradients exist, not yet clipped
            ...; optimizer.step()
            rec.after_step()

This file stays light (no torch), so `import engine` costs nothing until watch() is called.
Files: recorder.py (the API and the per-step records), records.py (norms, perplexity, final
figures), settings.py (argument checks), layers.py (the model's recurrent layers and what each
allows), capture.py (hooks on probe steps only), cells.py (a fused module re-run one step at a
time), measure.py (spectra, saturation, gradient reach), schedule.py (the probe budget),
remote.py (pause and stop from the dashboard).
"""

from __future__ import annotations

from engine.watch.remote import StopRequested

SOURCE = "watch"  # summary['source'] of a run recorded from someone's own loop

__all__ = ["SOURCE", "StopRequested", "is_watched", "watch"]


def watch(model, optimizer, name: str | None = None, config: dict | None = None, *, store=None,
          loss_kind: str = "ce", probe_every: int | None = None, probe_budget: float | None = None):
    """Start recording a training loop of `model` and `optimizer` as a new run; returns its Recorder.

    name: the run's label (default: the model's class name). config: your settings, shown with the
    run (a 'max_steps' entry gives the dashboard a progress bar). store: a RunStore (default
    RunStore(), i.e. $RNNLAB_STORE). loss_kind: 'ce' (cross-entropy in nats: perplexity is
    recorded), 'mse' or 'other'. probe_every, probe_budget: as RunConfig's (10 steps, 3 % of the time).
    """
    from engine.watch.recorder import Recorder  # torch and the engine load on first use
    from engine.watch.settings import check_arguments

    settings = check_arguments(model, optimizer, name, config, loss_kind, probe_every, probe_budget)
    return Recorder(model, optimizer, settings, store)


def is_watched(info) -> bool:
    """Whether a stored run (a RunInfo) was recorded by watch() from someone's own loop."""
    return (info.summary or {}).get("source") == SOURCE
