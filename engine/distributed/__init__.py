"""Runs at scale: sweeps and a class's runs on Ray, with the same Trainer and the same store.

Ray is an optional extra (requirements-ray.txt). Nothing here imports it at import time:
the modules that need it (trainable, remote_store, run_worker, runtime, sweep, ray_jobs)
import it when they are used, and `need_ray()` turns a missing install into one clear
message. The Ray-free parts (grid, progress, stepper) serve the CLI and the dashboard too.

    grid.py          --grid/--seeds parsing and the expanded list of run configs
    progress.py      "12 of 36 done, 3 stopped early", counted from the store
    stepper.py       one run stepped evaluation by evaluation (what a Tune trainable does)
    trainable.py     the tune.Trainable around the stepper, and the progress callback
    remote_store.py  the worker side of the writer actor: a RunStore look-alike
    writer_actor.py  the actor on the store's host that owns the RunStore
    runtime.py       start or join Ray, ship our code to its workers, pick where records go
    sweep.py         run a grid (optionally with ASHA) as one group of runs
    cli.py           `python -m engine sweep`
    run_worker.py    the actor that trains the dashboard's runs, one after another, and takes their controls
    ray_jobs.py      the JobManager's interface, backed by Ray (the dashboard, RNNLAB_RAY_ADDRESS)
"""

from __future__ import annotations

INSTALL_HINT = "pip install -r requirements-ray.txt   (ray[tune]==2.60.0)"


class RayMissing(RuntimeError):
    """Ray is not installed, and something asked to run on it."""


def need_ray():
    """Import and return the `ray` module, or raise RayMissing saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise RayMissing(f"running on Ray needs the optional Ray extra, which is not installed ({err}); "
                         f"install it with: {INSTALL_HINT}") from None
    return ray
