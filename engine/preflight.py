"""Preflight: open a run's data and check that its model fits in memory, before anything is stored.

    task = preflight(cfg)     # DataError naming the corpus, or ConfigError naming the field to lower

The CLI and the JobManager call it before they create a run, so a bad corpus path or a model
too large for the machine leaves no stray run behind; the Trainer then trains on the task it
returns instead of building it again. Tasks come from the process's task cache (data/cache.py):
a second Start of the same data, or the runs of a group, reuse the task built first.
"""

from __future__ import annotations

from data import Task
from data.cache import shared_task
from engine.config import ConfigError

FLOAT = 4  # bytes per float32
MEMORY_SHARE = 0.8  # refuse a run that would need more than this share of the memory available now
GATE_COUNT = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}


def preflight(cfg) -> Task:
    """The run's task, built (the corpus opened); raises DataError or ConfigError before any record exists."""
    task = shared_task(cfg)
    need, parts = memory_estimate(cfg, task)
    free = available_memory()
    if free is not None and need > MEMORY_SHARE * free:
        field = max(parts, key=parts.get)
        detail = ", ".join(f"{k} {v / 2**30:.1f} GiB" for k, v in parts.items())
        raise ConfigError(field, f"this run needs about {need / 2**30:.1f} GiB ({detail}) and {free / 2**30:.1f} GiB "
                                 f"are free; lower {field} (or hidden_size, batch_size, seq_len)")
    return task


def memory_estimate(cfg, task: Task) -> tuple[int, dict[str, int]]:
    """About how many bytes training takes -> (total, {the field that drives each part: bytes}).

    Parameters with their gradients and two optimiser states (Adam; SGD keeps one), and the
    activations one step keeps for backward: per layer the gate pre-activations and states
    (B, T, (G + 3) H), the embeddings (B, T, E) and the logits with their gradient (B, T, 2 O).
    """
    G, H, L, B, T = GATE_COUNT[cfg.cell], cfg.hidden_size, cfg.num_layers, cfg.batch_size, cfg.seq_len
    d_in = cfg.embed_dim if task.input_vocab else (task.input_dim or 1)
    embed = (task.input_vocab or 0) * cfg.embed_dim
    layers = sum(G * H * ((d_in if i == 0 else H) + H + 2) for i in range(L))
    head = (H + 1) * task.output_size
    copies = 3 if cfg.optimizer == "sgd" else 4  # weights, gradients, optimiser state(s)
    params = copies * (embed + layers + head) * FLOAT
    activations = B * T * (L * (G + 3) * H + d_in + 2 * task.output_size) * FLOAT
    parts = {"hidden_size": params, "batch_size": activations}
    return params + activations, parts


def available_memory() -> int | None:
    """Bytes of memory available now (Linux MemAvailable); None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
