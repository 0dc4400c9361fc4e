"""Text samples from a character model, drawn with their own random generator.

Sampling never touches the global RNG, so a run with samples and one without train alike.
"""

from __future__ import annotations

import torch

CONTEXT = 64  # characters of context fed back each step: enough for a readable sample, cheap


@torch.no_grad()
def sample_text(model, task, n_chars: int, seed: int, device, temperature: float = 0.8, prompt: str = "\n") -> str:
    """Generate n_chars characters after `prompt`."""
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    ids = task.encode(prompt) or [1]
    for _ in range(n_chars):
        x = torch.tensor([ids[-CONTEXT:]], dtype=torch.long, device=device)  # (1, t)
        out, _ = model(x)
        probs = torch.softmax(out[0, -1].float().cpu() / temperature, dim=-1)  # (V,)
        ids.append(int(torch.multinomial(probs, 1, generator=gen)))
    model.train(was_training)
    return task.decode(ids[len(task.encode(prompt) or [1]):])
