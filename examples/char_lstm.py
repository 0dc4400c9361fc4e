"""A plain PyTorch character-level LSTM on Python's own help text: nothing to download, no RNN Lab.

    python examples/char_lstm.py [steps]

examples/char_lstm_watched.py is this script with RNN Lab's recorder added (the import,
watch(...), one call after backward, one after the step, and close()), so the run shows live on
the dashboard beside engine runs.
"""

import sys
from pydoc_data.topics import topics  # the prose of Python's help(), shipped with Python

import torch
import torch.nn.functional as F
from torch import nn

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
for step in range(steps):
    x, y = get_batch()
    loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    if step % 100 == 0:
        print(f"step {step}  loss {loss.item():.3f}")
