"""The recurrent layers of a user's model: which modules they are, and what can be measured of each.

    layers = find_layers(model)      # every nn.RNN / nn.GRU / nn.LSTM (and *Cell) in the model
    layers[0].weight_hh              # (G*H, H) W_h of that layer and direction
    static_gaps(model, layers)       # {what: why} for measurements this model cannot give

Layers are numbered as the store's series name them (`spectrum/eig/l{index}/{gate}`): module
by module in `model.named_modules()` order, then layer by layer (num_layers > 1:
`weight_hh_l{k}`), then direction (bidirectional: forward, then reverse). So a two-layer
bidirectional LSTM gives l0 (layer 0 forward), l1 (layer 0 reverse), l2, l3. The run's
summary keeps this map, so a page or an export can name each index.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from engine.models import GATES

FUSED = (nn.RNN, nn.GRU, nn.LSTM)
STEPWISE = (nn.RNNCell, nn.GRUCell, nn.LSTMCell)  # called once per time step by the user's own loop


@dataclass(frozen=True)
class Layer:
    """One recurrent layer and direction of one module of the user's model."""

    index: int  # l in the series names
    path: str  # the module's name in model.named_modules(), e.g. "encoder.rnn"
    module: nn.Module
    k: int  # layer within the module
    reverse: bool  # the reverse direction of a bidirectional module
    cell: str  # rnn_tanh | rnn_relu | gru | lstm, as RunConfig.cell names them
    hidden_size: int

    @property
    def stepwise(self) -> bool:
        return isinstance(self.module, STEPWISE)

    @property
    def suffix(self) -> str:
        """The parameter-name suffix: '_l0', '_l1_reverse'; '' for a *Cell module."""
        return "" if self.stepwise else f"_l{self.k}" + ("_reverse" if self.reverse else "")

    @property
    def weight_hh(self):
        """W_h of this layer: (G*H, H), or (G*H, P) for a projected LSTM."""
        return getattr(self.module, "weight_hh" + self.suffix)

    @property
    def gates(self) -> tuple[str, ...]:
        return GATES[self.cell]

    @property
    def proj_size(self) -> int:
        return getattr(self.module, "proj_size", 0) or 0

    @property
    def out_size(self) -> int:
        """Size of h_t: proj_size for a projected LSTM, else hidden_size."""
        return self.proj_size or self.hidden_size

    def describe(self) -> dict:
        """JSON for the run's summary: which module, layer and direction this index is."""
        return {"layer": self.index, "module": self.path, "module_layer": self.k,
                "direction": "reverse" if self.reverse else "forward", "cell": self.cell,
                "hidden_size": self.hidden_size, "kind": type(self.module).__name__}


def cell_name(module: nn.Module) -> str:
    """rnn_tanh | rnn_relu | gru | lstm."""
    if isinstance(module, nn.LSTM | nn.LSTMCell):
        return "lstm"
    if isinstance(module, nn.GRU | nn.GRUCell):
        return "gru"
    return "rnn_" + module.nonlinearity


def find_layers(model: nn.Module) -> list[Layer]:
    """Every recurrent layer and direction of the model, numbered as the series name them."""
    layers = []
    for path, module in model.named_modules():
        if not isinstance(module, FUSED + STEPWISE):
            continue
        stacked = getattr(module, "num_layers", 1)
        directions = (False, True) if getattr(module, "bidirectional", False) else (False,)
        for k in range(stacked):
            for reverse in directions:
                layers.append(Layer(len(layers), path or type(module).__name__, module, k, reverse,
                                    cell_name(module), module.hidden_size))
    return layers


def static_gaps(layers: list[Layer]) -> dict[str, str]:
    """{what is not measured: why}, for what the model's structure alone rules out."""
    gaps = {"output": "Logit scale and output entropy are not measured: a recorder of your own loop "
                      "cannot tell which tensor holds your logits."}
    if not layers:
        gaps["recurrent"] = ("No nn.RNN, nn.GRU or nn.LSTM module was found in the model, so W_h spectra, "
                             "hidden-state saturation and gradient reach are not measured.")
    for module in unique_modules(layers):
        gaps.update(module_gaps(module, [la for la in layers if la.module is module]))
    return gaps


def unique_modules(layers: list[Layer]) -> list[nn.Module]:
    """The modules of these layers, in order, once each."""
    seen: dict[int, nn.Module] = {}
    for la in layers:
        seen.setdefault(id(la.module), la.module)
    return list(seen.values())


def module_gaps(module: nn.Module, layers: list[Layer]) -> dict[str, str]:
    """What one module's kind rules out, keyed 'spectrum/l{i}', 'reach/l{i}', 'hidden/l{i}'."""
    name, ids = layers[0].path, ", ".join(f"l{la.index}" for la in layers)
    gaps = {}
    if isinstance(module, STEPWISE):
        gaps[f"reach/{name}"] = (f"Gradient reach and hidden-state saturation are not measured for {name} ({ids}): "
                                 f"an {type(module).__name__} is called once per time step by your loop, so no "
                                 "single call holds the whole sequence. Its W_h spectrum is measured.")
    if getattr(module, "proj_size", 0):
        gaps[f"spectrum/{name}"] = (f"The W_h spectrum is not measured for {name} ({ids}): with proj_size = "
                                    f"{module.proj_size} its weight_hh is {tuple(layers[0].weight_hh.shape)}, "
                                    "not square, so it has no eigenvalues. Gradient reach and saturation are measured.")
    if getattr(module, "bidirectional", False):
        gaps[f"reach/{name}"] = (f"Gradient reach is not measured for the bidirectional {name} ({ids}): its state "
                                 "at t also depends on later inputs, so 'how far back the gradient reaches' has no "
                                 "one-way meaning. Spectra of both directions are measured (even layer numbers: "
                                 "forward, odd: reverse), and saturation of the last layer.")
    elif getattr(module, "num_layers", 1) > 1 and getattr(module, "dropout", 0) > 0:
        gaps[f"reach/{name}"] = (f"Gradient reach and the saturation of inner layers are not measured for {name} "
                                 f"({ids}) while it trains: its dropout of {module.dropout:g} between stacked layers "
                                 "draws masks inside the fused kernel that cannot be replayed. One module per layer, "
                                 "with nn.Dropout between them, can be measured.")
    return gaps
