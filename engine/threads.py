"""Threads where the cores are: how many cores this process has and torch's intra-op threads per thread.

    use_threads(1)                      # this thread's torch ops use one intra-op thread
    intra_op_threads(runs=3, cores=2)   # -> 1: what each of `runs` concurrent runs should use

torch.set_num_threads is documented as process-wide, but with the OpenMP backend (torch's CPU
wheels) and MKL the count is kept per thread: set_num_threads sets the calling thread's OpenMP
count and MKL's thread-local one, and a thread takes the process-wide value only at its first
parallel op (tests/test_threads.py checks this). So each thread that steps a run sets its own
count, first forcing that initialisation so a later one cannot overwrite it.

How many: one intra-op thread per run while there are as many runs as cores (parallel runs
beat threads inside one run), and the spare cores shared among the runs otherwise, but only for
models large enough to use them (MIN_PARALLEL_WORK). Measured on 2 cores (bench/threads.py, README):
an LSTM 128 step (B 32, T 64) does not get faster with a second intra-op thread, and with OpenMP
threads on a busy machine it became 20x slower (threads spin waiting for a descheduled peer).
"""

from __future__ import annotations

import os
import threading

import torch

# hidden units x batch sequences per step below which a second intra-op thread does not pay
# (a (B, H) x (H, G*H) product per time step: OpenMP splits only work above ~32k elements)
MIN_PARALLEL_WORK = 256 * 64


# held by code that seeds torch's one global generator and then draws from it (a run's seeding and
# initialisation, the warm-up's model): two threads doing that at once would take each other's numbers
GLOBAL_RNG = threading.Lock()


def cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def use_threads(n: int) -> None:
    """Set torch's intra-op threads for the calling thread only (see the module docstring)."""
    torch.get_num_threads()  # a thread's first call takes the process-wide count: make it happen before setting
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def intra_op_threads(runs: int, n_cores: int | None = None, work: int = 0) -> int:
    """Intra-op threads for each of `runs` runs training at once on `n_cores` (default: this process's).

    `work` is a run's hidden_size x batch_size: below MIN_PARALLEL_WORK, one thread.
    """
    n_cores = cores() if n_cores is None else n_cores
    if runs >= n_cores or work < MIN_PARALLEL_WORK:
        return 1
    return max(1, n_cores // max(1, runs))
