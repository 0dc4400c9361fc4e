"""Plain words for the terms the pages and charts use, in one popover in every page's header.

Each entry says what the thing is and what to look for, in a sentence or two, without formulas
a newcomer would have to look up. A test checks that every term the issue names is here.
"""

from __future__ import annotations

import streamlit as st

TERMS: dict[str, str] = {
    "perplexity": "How many characters the model is choosing between, on average, when it guesses the next "
    "one. A model that guesses uniformly among |V| characters has perplexity |V|; lower is better, 1 is perfect.",
    "|V|": "The size of the vocabulary: how many different characters (or items) there are. The uniform "
    "guess scores perplexity |V| and loss ln|V|, so a run above the |V| line is worse than guessing.",
    "loss": "The number training pushes down: for text, the cross-entropy, ln(perplexity). The faint line "
    "is each batch's value, the bold line a moving average of them, the dots the validation loss.",
    "validation": "The same measure on text the model never trains on. When training keeps improving and "
    "validation does not, the model is memorising its training text.",
    "HR@10": "Hit rate at 10, for next-item tasks: the share of predictions where the true next item is among "
    "the model's ten top guesses.",
    "gradient norm": "The length of the gradient, all parameters together: how hard one batch pulls on the "
    "weights. Sudden spikes are the exploding gradients clipping is for.",
    "clipping": "Shrinking the gradient when its norm passes a threshold, keeping its direction, so one bad "
    "batch cannot throw the weights far.",
    "lr": "The learning rate: how far each update moves the weights along the gradient. Warmup raises it "
    "from small to full over the first steps; a schedule lowers it later.",
    "W_h": "The recurrent weight matrix: it carries the hidden state h from one time step to the next "
    "(h_t depends on W_h times h_(t-1)). LSTM and GRU have one such block per gate.",
    "spectral radius": "The largest size of an eigenvalue of W_h (rho). Above 1, repeated multiplication by "
    "W_h makes some directions grow step after step; below 1, every direction shrinks.",
    "sigma_max": "The largest singular value of W_h: the most W_h can stretch any vector in one step. With "
    "tanh, sigma_max below 1 makes the gradient vanish back through time for sure.",
    "gradient reach": "How far back in time the gradient still arrives: the size of dL_T/dh_t, the gradient "
    "of the last step's loss with respect to the hidden state t steps earlier. A curve that drops to nothing "
    "after a few steps means the network cannot learn longer dependencies.",
    "saturation": "The share of tanh units stuck near -1 or +1 (|h| > 0.99). A saturated unit passes almost "
    "no gradient back; most units saturated means learning stalls.",
    "log(1+count)": "The colour scale of the gradient histograms: log(1 + number of values in the bin), so "
    "bins with a few values still show beside bins with thousands.",
    "step": "One update of the weights, from one batch of sequences.",
}


def popover() -> None:
    """A 'Glossary' button whose popover lists every term in plain words."""
    with st.popover("Glossary", icon=":material/menu_book:", help="What the words on this page mean."):
        for term, words in TERMS.items():
            st.markdown(f"**{term}**: {words}")
