"""Text samples from a character model, drawn with their own random generator.

Sampling never touches the global RNG, so a run with samples and one without train alike.
"""

from __future__ import annotations

import torch


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
