"""examples/char_lstm.py with RNN Lab's recorder added: five lines, each marked `# RNN Lab`.

    python -m examples.char_lstm_watched [steps]     # from the repository root
    bash scripts/dashboard.sh                        # the run shows on the Live page as it trains

The lines: the import, watch(...) once the model and optimizer exist, rec.after_backward(loss)
after backward (gradients not yet clipped), rec.after_step() after the optimizer's step, and
rec.close() at the end. Pause and Stop on the dashboard act inside rec.after_step().
"""

import sys
from pydoc_data.topics import topics  # the prose of Python's help(), shipped with Python

import torch
import torch.nn.functional as F
from torch import nn

from engine import watch  # RNN Lab

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
torch.manual_seed(0)
text = "\n".join(topics[k] for k in sorted(topics))  # about 465,000 characters
chars = sorted(set(text))
ids = {c: i for i, c in enumerate(chars)}
data = torch.tensor([ids[c] for c in text[:200_000]])  # (N,) character ids: the first 200,000
V, H, T, B = len(chars), 128, 64, 32  # vocabulary, hidden units, sequence length, batch size


class CharLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, 64)
        self.lstm = nn.LSTM(64, H, batch_first=True)
        self.head = nn.Linear(H, V)

    def forward(self, x):  # x (B, T) ids -> logits (B, T, V)
        h, _ = self.lstm(self.embed(x))  # (B, T, H)
        return self.head(h)


def get_batch():
    i = torch.randint(0, len(data) - T - 1, (B,)).tolist()
    x = torch.stack([data[j : j + T] for j in i])  # (B, T)
    return x, torch.stack([data[j + 1 : j + T + 1] for j in i])  # targets: the next characters


model = CharLSTM()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
rec = watch(model, optimizer, name="char lstm (example)", config={"lr": 3e-3, "hidden": H, "max_steps": steps})  # RNN Lab
for step in range(steps):
    x, y = get_batch()
    loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    rec.after_backward(loss)  # RNN Lab
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    rec.after_step()  # RNN Lab
    if step % 100 == 0:
        print(f"step {step}  loss {loss.item():.3f}")
rec.close()  # RNN Lab
