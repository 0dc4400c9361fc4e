"""Start or join Ray, ship our code to its workers, and decide where their records go.

    with ray_session(address=None, num_cpus=2):    # a local Ray, started here and stopped after
        mode = records_mode("auto")                 # 'direct' on one host, 'actor' across hosts
        writer = start_writer(store_path) if mode == "actor" else None

Workers do not inherit the driver's sys.path. A local Ray started here gets the repository
on PYTHONPATH; an existing cluster gets `engine/` and `data/` uploaded as py_modules, so
its machines need Ray, torch and numpy but not a checkout. Every worker is told its store
explicitly (a path, or the writer actor), and RNNLAB_STORE is pointed at nowhere so that
nothing opens a store by accident on a machine where the file is not.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

from engine.distributed import need_ray

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "rnnlab"
START_ATTEMPTS = 2  # a local Ray that does not come up in time is tried once more
RECORDS = ("auto", "direct", "actor")
NO_STORE = "/dev/null/workers-get-their-store-explicitly.sqlite"  # no directory can be made under /dev/null
PASSED_ON = ("RNNLAB_DATA_DIR", "RNNLAB_CACHE")  # where workers find corpora, if the driver says


def runtime_env(ship_code: bool) -> dict:
    """The runtime_env of our Ray jobs: our code on the workers' path, and their environment."""
    env = {"RNNLAB_STORE": NO_STORE, **{k: os.environ[k] for k in PASSED_ON if k in os.environ}}
    renv: dict = {"env_vars": env}
    if ship_code:  # another machine: upload the packages (a few hundred kB)
        renv["py_modules"] = [str(ROOT / "engine"), str(ROOT / "data")]
        renv["excludes"] = ["__pycache__", "*.pyc"]
    else:  # this machine: the checkout is right here
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return renv


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None):
    """Ray for the duration of the block: joined at `address` ('auto', 'HOST:PORT'), else a local one.

    If this process is already connected (a test, the dashboard), that connection is used and
    left open. A local Ray started here lives in its own temporary folder and is stopped after.
    """
    ray = need_ray()
    if ray.is_initialized():
        yield ray
        return
    temp = None
    if address is None:
        temp = start_local(num_cpus)
    else:
        join(address)
    try:
        yield ray
    finally:
        ray.shutdown()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def start_local(num_cpus: int | None = None) -> str:
    """Start a local Ray in a fresh temporary folder (returned: remove it after ray.shutdown())."""
    for attempt in range(START_ATTEMPTS):
        # short and under /tmp: Ray's unix sockets live below it, and their paths may not exceed 107 bytes
        temp = tempfile.mkdtemp(prefix="rnnlab-ray-", dir="/tmp")
        try:
            _init_local(temp, num_cpus)
            return temp
        except Exception as err:  # Ray gives its raylet 30 s to register: a very busy machine can miss that
            need_ray().shutdown()
            shutil.rmtree(temp, ignore_errors=True)
            if attempt + 1 == START_ATTEMPTS or "timed out during startup" not in str(err):
                raise
            log.warning("a local Ray did not come up in time (%s); trying once more", err)


def _init_local(temp: str, num_cpus: int | None) -> None:
    ray = need_ray()
    # Ray turns on token authentication for a new local cluster (good) and warns that it did (noise)
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), namespace=NAMESPACE, include_dashboard=False,
             _temp_dir=temp, runtime_env=runtime_env(ship_code=False),
             logging_level=logging.WARNING, log_to_driver=False,
             # Ray starts workers at nice 15 to keep its daemons responsive; here the workers are the work,
             # and at 15 anything else on the machine takes their CPU (measured: steps 1.3x slower than the
             # JobManager's threads on a busy machine)
             _system_config={"worker_niceness": 0})


def join(address: str) -> None:
    """Connect to a running cluster ('auto' finds one started on this machine by `ray start`)."""
    ray = need_ray()
    try:
        ray.init(address=address, namespace=NAMESPACE, runtime_env=runtime_env(ship_code=True),
                 logging_level=logging.WARNING, log_to_driver=False)
    except ConnectionError as err:
        raise ConnectionError(f"--address {address}: no Ray cluster answered ({err}); start one with "
                              "`ray start --head`, or leave --address out to use a local Ray") from None


def hosts() -> set[str]:
    """Host names of the cluster's live nodes."""
    return {n["NodeManagerHostname"] for n in need_ray().nodes() if n.get("Alive")}


def records_mode(records: str = "auto") -> str:
    """'direct' (workers write the SQLite file) when every node is this host, else 'actor'.

    Decided on the nodes present now: for a cluster that grows later, ask for 'actor'.
    """
    if records not in RECORDS:
        raise ValueError(f"records: {records!r} is not one of {', '.join(RECORDS)}")
    if records != "auto":
        return records
    return "direct" if hosts() <= {socket.gethostname()} else "actor"


def start_writer(store_path: str | os.PathLike, name: str):
    """The StoreWriter actor for `store_path`, pinned to this node (the store's host); waits until it is up."""
    ray = need_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from engine.distributed.writer_actor import StoreWriter

    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    path = str(Path(store_path).resolve())
    # the one process allowed the real store: RNNLAB_STORE names it (every other worker's points nowhere)
    env = {"env_vars": {"RNNLAB_STORE": path}}
    writer = ray.remote(StoreWriter).options(name=name, namespace=NAMESPACE, num_cpus=0, scheduling_strategy=here,
                                             runtime_env=env, max_restarts=0).remote(path)
    ray.get(writer.ping.remote())
    return writer


def stop_writer(writer) -> None:
    """Commit and close the writer's store, then end the actor."""
    ray = need_ray()
    try:
        ray.get(writer.close.remote(), timeout=60)
    finally:
        ray.kill(writer)
