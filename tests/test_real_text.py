"""Real text: an LSTM trained a few hundred steps on Tiny Shakespeare beats the bigram model."""

import pytest

from engine.config import RunConfig
from engine.store import RunStore
from engine.trainer import Trainer

BIGRAM_PPL = 12.0  # add-0.1 bigram on a 90/10 split, ../shared/data/SOURCES.md


@pytest.mark.slow
def test_lstm_on_tiny_shakespeare_beats_bigram(shared_data, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(shared_data))
    cfg = RunConfig(cell="lstm", corpus="tinyshakespeare", hidden_size=192, embed_dim=32, seq_len=64,
                    batch_size=32, lr=6e-3, max_steps=400, eval_every=400, eval_batches=20, probe_every=0)
    store = RunStore()
    run_id = store.create_run(cfg.to_dict())
    t = Trainer(cfg, store, run_id)
    t.start()
    while t.step():
        pass
    t.finish()
    ppl = store.scalars(run_id, "val/ppl")[1][-1]
    print(f"validation perplexity after 400 steps: {ppl:.2f} (bigram {BIGRAM_PPL})")
    assert ppl < 0.75 * BIGRAM_PPL
