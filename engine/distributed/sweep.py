"""Run a sweep: every run of a grid as one group in the store, trained as Ray Tune trials.

    sweep = Sweep(group=group_id("lr-clip"), runs=expand(base, grid, seeds), asha=Asha())
    outcome = run_sweep(sweep, store_path)            # a local Ray, started and stopped here
    outcome = run_sweep(sweep, store_path, address="auto")   # an existing cluster

The driver (this process, on the store's host) creates every run in the store first, status
`queued`, so the dashboard shows the whole sweep at once; Tune then trains them, one CPU
each, as many at a time as the cluster has CPUs. With `asha`, Async Successive Halving stops
runs whose validation loss falls behind at each rung; they end `stopped` with the reason.
Afterwards nothing is left active: a run whose worker died ends `failed` with Tune's error
(its records kept), one that never started ends `stopped`.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.config import RunConfig
from engine.distributed.grid import GridError
from engine.distributed.progress import SweepProgress
from engine.distributed.runtime import ray_session, records_mode, start_writer, stop_writer
from engine.preflight import preflight
from engine.store import ACTIVE, RunStore

SETTLE_S = 15.0  # how long stopped workers get to conclude their runs after Tune returns
NOT_STARTED = "the sweep ended before this run started"
WORKER_LOST = "its Ray worker ended without concluding the run"


@dataclass(frozen=True)
class Asha:
    """Async Successive Halving on validation loss, counted in evaluations."""

    grace: int = 1  # evaluations every run gets before it can be stopped
    reduction: float = 3.0  # at each rung only the best 1/reduction go on

    def __post_init__(self):
        if self.grace < 1:
            raise GridError(f"--asha-grace {self.grace}: a run needs at least 1 evaluation before it can be stopped")
        if not self.reduction > 1:
            raise GridError(f"--asha-reduction {self.reduction}: must be above 1 (3 keeps the best third)")

    def why(self) -> str:
        """The reason a stopped run records; {evals} and {val} are filled in by the worker."""
        return (f"ASHA early stopping: its validation loss {{val:.4g}} at evaluation {{evals}} was not in the "
                f"best 1/{self.reduction:g} of the runs that reached it")


@dataclass(frozen=True)
class Sweep:
    """A named grid of runs, and how to prune it."""

    group: str
    runs: list[tuple[str, RunConfig]]  # (label, config)
    asha: Asha | None = None
    max_concurrent: int | None = None  # runs training at once (default: one per CPU of the cluster)


@dataclass
class SweepOutcome:
    """How a sweep ended: its group, runs, counts, where records went and which nodes trained."""

    group: str
    run_ids: list[str]
    progress: SweepProgress
    records: str
    nodes: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)  # run id -> Tune's error, for runs whose worker failed


def run_sweep(sweep: Sweep, store_path, address: str | None = None, num_cpus: int | None = None,
              records: str = "auto", on_progress: Callable[[SweepProgress], None] | None = None) -> SweepOutcome:
    """Create the sweep's runs in the store, train them on Ray, and return how they ended."""
    store = RunStore(store_path)
    try:
        store.recover()
        if store.group_runs(sweep.group):
            raise GridError(f"--name: a sweep {sweep.group!r} is already in the store {store.path}; choose another name")
        check_data(sweep.runs)
        with ray_session(address, num_cpus):  # up before the runs are stored: a cluster that is not there leaves none
            mode = records_mode(records)
            run_ids = [store.create_run(cfg.to_dict(), label=label, group_id=sweep.group) for label, cfg in sweep.runs]
            errors = _train(sweep, run_ids, store, mode, on_progress)
        infos = [store.run(r) for r in run_ids]
        progress = SweepProgress.of(infos)
        if on_progress is not None:
            on_progress(progress)
        nodes = {i.summary.get("worker", {}).get("node") for i in infos} - {None}
        return SweepOutcome(sweep.group, run_ids, progress, mode, nodes, errors)
    finally:
        store.close()


def _train(sweep: Sweep, run_ids: list[str], store: RunStore, mode: str, on_progress) -> dict[str, str]:
    """Tune trains the stored runs; whatever happens, none is left active. {run id: error} of lost workers."""
    errors: dict[str, str] = {}
    writer = start_writer(store.path, f"rnnlab-writer-{sweep.group}") if mode == "actor" else None
    try:
        errors = _tune(sweep, run_ids, _plan(sweep, run_ids, store, mode), lambda: _poll(store, sweep.group, on_progress))
    finally:
        # workers Tune stopped conclude their runs (through the writer, maybe): let them finish; a worker
        # that failed will not
        _settle(store, [r for r in run_ids if r not in errors])
        if writer is not None:
            stop_writer(writer)
        _reconcile(store, run_ids, errors)
    return errors


# the settings that decide a run's data and memory: configs equal in these need one preflight
DATA_FIELDS = ("task", "corpus", "seq_len", "batch_size", "variable_length", "num_items", "train_sequences",
               "cell", "embed_dim", "hidden_size", "num_layers")


def check_data(runs: list[tuple[str, RunConfig]]) -> None:
    """Open every distinct corpus and check every distinct model fits in memory, before anything is stored.

    Raises DataError or ConfigError, as `python -m engine train` does (checked on this host: the
    workers of a cluster may have more memory, but a corpus path that does not open here is a typo).
    """
    seen = set()
    for _, cfg in runs:
        key = tuple(getattr(cfg, f) for f in DATA_FIELDS)
        if key not in seen:
            seen.add(key)
            preflight(cfg)


def _plan(sweep: Sweep, run_ids: list[str], store: RunStore, mode: str) -> dict:
    """What every worker needs once: the runs' configs, where records go, why a stopped run stopped."""
    where = {"mode": "direct", "path": str(store.path)} if mode == "direct" else \
        {"mode": "actor", "writer": f"rnnlab-writer-{sweep.group}"}
    why = sweep.asha.why() if sweep.asha else "the sweep was stopped before this run ended"
    return {"configs": {r: cfg.to_dict() for r, (_, cfg) in zip(run_ids, sweep.runs)}, "records": where, "why": why}


def _tune(sweep: Sweep, run_ids: list[str], plan: dict, poll: Callable[[], None]) -> dict[str, str]:
    """Train the runs as Tune trials; {run id: error} for trials that failed outside the Trainer."""
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no CSV/JSON/TensorBoard files per trial
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no tables; our progress bar says it
    logging.getLogger("ray.tune").setLevel(logging.ERROR)  # it warns that the result files it was told not to write are missing
    from ray import tune

    from engine.distributed.trainable import ProgressCallback, RunTrainable

    trainable = tune.with_resources(tune.with_parameters(RunTrainable, plan=plan), {"cpu": 1})
    scheduler = None
    if sweep.asha:
        scheduler = tune.schedulers.ASHAScheduler(
            time_attr="training_iteration", metric="val_loss", mode="min",
            max_t=max(max(evaluations(cfg) for _, cfg in sweep.runs), sweep.asha.grace),
            grace_period=sweep.asha.grace, reduction_factor=sweep.asha.reduction)
    storage = tempfile.mkdtemp(prefix="rnnlab-tune-")  # Tune's own bookkeeping; the store holds the results
    try:
        tuner = tune.Tuner(
            trainable,
            param_space={"run_id": tune.grid_search(run_ids)},
            tune_config=tune.TuneConfig(scheduler=scheduler, reuse_actors=True, max_concurrent_trials=sweep.max_concurrent),
            run_config=tune.RunConfig(name=sweep.group, storage_path=storage, verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=0),
                                      # the Trainer checkpoints into the store; Tune's own copy would be unused
                                      checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
                                      callbacks=[ProgressCallback(poll)]),
        )
        grid = tuner.fit()
        return {r.config["run_id"]: _error_text(r.error) for r in grid if r.error is not None}
    finally:
        shutil.rmtree(storage, ignore_errors=True)


def evaluations(cfg: RunConfig) -> int:
    """How many evaluations a run makes (an upper bound when it evaluates by fractions of an epoch)."""
    if cfg.eval_every < 1:
        return cfg.max_steps
    every = int(cfg.eval_every)
    return cfg.max_steps // every + (cfg.max_steps % every != 0)


def _poll(store: RunStore, group: str, on_progress) -> None:
    """Report progress, and stop beating the heartbeat of runs a worker has taken over."""
    infos = store.group_runs(group)
    for info in infos:
        if info.status != "queued":
            store.release(info.id)
    if on_progress is not None:
        on_progress(SweepProgress.of(infos))


def _settle(store: RunStore, run_ids: list[str]) -> None:
    """Wait (up to SETTLE_S) for runs that are running to reach a final status."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline and any(store.run(r).status in ("running", "paused") for r in run_ids):
        time.sleep(0.2)


def _reconcile(store: RunStore, run_ids: list[str], errors: dict[str, str]) -> dict[str, str]:
    """Leave no run active: never started -> 'stopped', worker lost -> 'failed' with Tune's error."""
    for run_id in run_ids:
        info = store.run(run_id)
        if info.status == "queued":
            store.set_status(run_id, "stopped", NOT_STARTED)
        elif info.status in ACTIVE:
            message = errors.setdefault(run_id, WORKER_LOST)
            store.add_event(run_id, info.step, "error", f"failed: {message}")
            store.set_status(run_id, "failed", message)
    store.flush()
    return errors


def _error_text(error: BaseException) -> str:
    """The last line of an error (the exception itself), without Ray's long traceback."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[-1] if lines else type(error).__name__)[:500]
