"""Text samples from a character model, drawn with their own random generator.

Sampling never touches the global RNG, so a run with samples and one without train alike.

    text = sample_text(model, task, 200, seed, device)     # on the calling thread
    sampler = Sampler(task)                               # off the training thread:
    sampler.request(model, step, seed)                    #   copies the weights (0.02 ms), returns
    for step, text in sampler.collect(): ...              #   the samples generated so far, in step order

A sample of 200 characters costs about 50 ms for an LSTM 128 (two hundred one-step forwards),
four training steps: every 100 steps, as the dashboard samples, that was 4 % of the training
time. The Sampler generates it on a worker thread (engine/probes/worker.py) from a copy of the
weights taken at the step, so the text is the one sample_text would give at that step.
"""

from __future__ import annotations

import torch

from engine.probes.worker import ProbeWorker
from engine.shadow import ShadowModel

SAMPLE_CHARS = 200  # characters per sample


@torch.no_grad()
def sample_text(model, task, n_chars: int, seed: int, device, temperature: float = 0.8, prompt: str = "\n") -> str:
    """Generate n_chars characters after `prompt`, one step at a time from the carried state."""
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    ids = task.encode(prompt) or [0]
    x = torch.tensor([ids], dtype=torch.long, device=device)  # (1, len(prompt))
    out, state = model.forward_with_state(x)
    new = []
    for _ in range(n_chars):
        probs = torch.softmax(out[0, -1].float().cpu() / temperature, dim=-1)  # (V,)
        new.append(int(torch.multinomial(probs, 1, generator=gen)))
        out, state = model.forward_with_state(torch.tensor([[new[-1]]], device=device), state)
    model.train(was_training)
    return task.decode(new)


class Sampler:
    """One run's text samples, generated on a worker thread from copies of the weights."""

    def __init__(self, task, n_chars: int = SAMPLE_CHARS):
        self.task, self.n_chars = task, n_chars
        self.shadow = ShadowModel()  # the worker's own copy of the model, loaded with each request's weights
        self.worker = ProbeWorker(name="rnnlab-samples")

    def request(self, model, step: int, seed: int) -> None:
        """Training thread: take the weights as they are now; the sample of `step` comes back from collect()."""
        self.worker.submit(step, [(self, (self.shadow.take(model), seed))])

    def analyse(self, captured: tuple) -> dict:
        """Worker: the text of the captured weights (the worker calls it like a split probe's analysis)."""
        weights, seed = captured
        model = self.shadow.load(weights)
        device = next(model.parameters()).device
        return {"text": sample_text(model, self.task, self.n_chars, seed=seed, device=device)}

    def collect(self, wait: bool = False) -> list[tuple[int, str]]:
        """The samples generated so far [(step, text)], in step order; wait=True: every one requested."""
        return [(step, out["text"]) for step, out in self.worker.collect(wait=wait)]
