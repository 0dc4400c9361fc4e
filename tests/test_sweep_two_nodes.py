"""A two-node Ray cluster on one machine: a sweep's runs train on both nodes and land in one store.

`ray start --head` and a second `ray start --address` run with `--block`, each with its own
temporary folder and ports and one CPU, so the sweep's runs must spread over both. The sweep
is the command a user types for an existing cluster (`python -m engine sweep --address ...`),
with records sent through the writer actor as they are across hosts, and code shipped to the
workers as py_modules. Both nodes are stopped by the PIDs of their `ray start` processes,
which take every process they started with them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sweep_testkit import ROOT

from engine.store import RunStore

pytest.importorskip("ray", reason="Ray is an optional extra: pip install -r requirements-ray.txt")
pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).with_name("ray"))
STARTED = "Ray runtime started"
START_TIMEOUT_S = 120


GIVEN: set[int] = set()  # ports handed out in this test session


def free_port() -> int:
    """A free port not handed out before: the OS may offer a just-released port again (CI: the node
    manager and the dashboard agent both got 47321, and `ray start` refused to start)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in GIVEN:
            GIVEN.add(port)
            return port


def own_ports() -> list[str]:
    """Free ports for one node's servers, so that it meets no other Ray on this machine."""
    names = ("--node-manager-port", "--object-manager-port", "--metrics-export-port", "--runtime-env-agent-port",
             "--dashboard-agent-grpc-port", "--dashboard-agent-listen-port")
    return [arg for name in names for arg in (name, str(free_port()))]


def start_node(args: list[str], temp: Path, env: dict) -> subprocess.Popen:
    """`ray start --block ...` in the background; returns once its runtime has started."""
    log = temp.with_suffix(".log")
    cmd = [RAY, "start", "--block", "--num-cpus", "1", "--temp-dir", str(temp), "--disable-usage-stats",
           *own_ports(), *args]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + START_TIMEOUT_S
    while STARTED not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"ray start did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    return proc


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the `ray start --block` process: it stops the Ray processes it started, then exits."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def ray_processes_under(folder: Path) -> list[str]:
    """Command lines of this machine's processes that mention `folder` (a node's temporary folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and str(folder) in cmd:
            found.append(cmd[:120])
    return found


@contextmanager
def two_nodes():
    """Two one-CPU nodes (head and worker) on this machine; yields (address, env, temporary folders)."""
    # short folders under /tmp: Ray's unix sockets live below them, and socket paths may not exceed 107 bytes
    temps = (Path(tempfile.mkdtemp(prefix="rl-head-", dir="/tmp")), Path(tempfile.mkdtemp(prefix="rl-node-", dir="/tmp")))
    # Ray's token authentication, said explicitly: a joining node does not turn it on by itself
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    port = free_port()
    try:
        head = start_node(["--head", "--port", str(port), "--include-dashboard", "false",
                           "--ray-client-server-port", str(free_port())], temps[0], env)
        try:
            node = start_node(["--address", f"127.0.0.1:{port}"], temps[1], env)
            try:
                yield f"127.0.0.1:{port}", env, temps
            finally:
                stop(node)
        finally:
            stop(head)
    finally:
        for temp in temps:
            shutil.rmtree(temp, ignore_errors=True)
            temp.with_suffix(".log").unlink(missing_ok=True)


def test_a_sweep_on_two_nodes_lands_in_one_store(tmp_path):
    store_path = tmp_path / "runs.sqlite"
    with two_nodes() as (address, env, temps):
        assert all(ray_processes_under(t) for t in temps)  # each node runs from its own folder
        cmd = [sys.executable, "-m", "engine", "sweep", "--address", address, "--records", "actor", "--quiet",
               "--grid", "lr=1e-3,3e-3,1e-2,3e-2", "--set", "cell=gru", "--set", "hidden_size=12",
               "--set", "seq_len=16", "--set", "batch_size=8", "--set", "eval_every=10", "--set", "sample_every=0",
               "--steps", "30"]
        done = subprocess.run(cmd, cwd=ROOT, env={**env, "RNNLAB_STORE": str(store_path)}, capture_output=True,
                              text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    group = done.stdout.strip().splitlines()[-1]
    assert "4 of 4 done; records actor, 2 node(s)" in done.stderr
    with RunStore(store_path) as store:
        infos = store.group_runs(group)
        assert len(infos) == 4 and {i.status for i in infos} == {"done"}
        for info in infos:
            assert store.scalars(info.id, "train/loss")[0].tolist() == list(range(30))
            assert info.pid == info.summary["worker"]["pid"]  # the worker's, relayed by the writer actor
        assert len({i.summary["worker"]["node"] for i in infos}) == 2  # both nodes trained runs
    # stopped by PID: nothing of either node is left
    deadline = time.monotonic() + 30
    while any(ray_processes_under(t) for t in temps) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [p for t in temps for p in ray_processes_under(t)] == []
