"""Hooks that keep what a recurrent module saw and returned on one probe step, then go away.

    capture = Capture(modules)
    capture.attach(grads=True)     # at the end of the step before a probe step (fastai HookCallback(every=))
    ...user's forward and loss.backward()...
    capture.calls_of(module)       # [Call]: input x, h0, output y, and dL/dy, dL/dh_n, dL/dc_n
    capture.remove()               # in after_backward: no hook stays on the model

One process-wide forward hook (torch.nn.modules.module.register_module_forward_hook), kept for
the probe step only, records every call of the watched modules made with autograd on (an
evaluation under torch.no_grad or inference_mode is ignored). It is process-wide rather than on
the modules so that nothing of ours is ever in the model's own hook dicts: a loop that deep-copies
or pickles its model between steps (a best-model copy, torch.save(model)) copies no hook, and the
copy's calls are not recorded. With grads=True it also puts tensor hooks on the call's outputs,
which receive the partials dL/dy (B, T, H_out) and dL/dh_n, dL/dc_n (L, B, H) during the user's
own backward: the gradient of the loss the user backpropagated.
Tensors are normalised to batch first; a PackedSequence is padded, with its lengths kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence


@dataclass
class Call:
    """One forward call of a module, batch first: x (B, T, D), y (B, T, H_out), h0/c0 (L*dirs, B, H) or None."""

    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor | None  # (B,) real lengths of a packed batch, else None
    h0: torch.Tensor | None
    c0: torch.Tensor | None
    order: int
    grads: dict = field(default_factory=dict)  # 'y', 'h_n', 'c_n' -> gradient, batch first; filled in backward

    @property
    def got_grads(self) -> bool:
        return bool(self.grads)


class Capture:
    """Forward (and optionally gradient) hooks on fused recurrent modules, for one step at a time."""

    def __init__(self, modules: list[nn.Module]):
        self.modules = modules
        self._targets = {id(m) for m in modules}  # the modules are alive as long as we hold them: ids are theirs
        self.calls: dict[int, list[Call]] = {}  # id(module) -> its calls on this step
        self._handles: list = []  # forward-hook and tensor-hook handles, all removed by remove()
        self.failures: dict[int, str] = {}  # id(module) -> why a call could not be read
        self._grads = False
        self._order = count()  # call order across the modules: which one ran last

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def attach(self, grads: bool) -> None:
        """Hook the modules' coming forward calls; grads: also keep the partials of the backward."""
        self.remove()
        self._grads = grads
        if self.modules:
            self._handles.append(register_module_forward_hook(self._hook, with_kwargs=True))

    def remove(self) -> None:
        """Remove every hook this capture added and forget the calls."""
        for handle in self._handles:
            handle.remove()
        self._handles, self.calls, self.failures = [], {}, {}

    def calls_of(self, module: nn.Module) -> list[Call]:
        return self.calls.get(id(module), [])

    def _hook(self, module, args, kwargs, output) -> None:
        if id(module) not in self._targets or not torch.is_grad_enabled():  # another module, or an evaluation
            return
        try:
            self._record(module, args, kwargs, output)
        except Exception as err:  # a recorder must never break the user's forward pass: say why instead
            self.failures[id(module)] = f"{type(err).__name__}: {err}"

    def _record(self, module, args, kwargs, output) -> None:
        if not (isinstance(output, tuple) and len(output) == 2):
            raise ValueError(f"its forward returned a {type(output).__name__}, not the (output, state) pair "
                             "of nn.RNN, nn.GRU and nn.LSTM")
        x, hx = (args[0] if args else kwargs["input"]), (args[1] if len(args) > 1 else kwargs.get("hx"))
        y, state = output
        h_n, c_n = state if isinstance(state, tuple) else (state, None)
        h0, c0 = hx if isinstance(hx, tuple) else (hx, None)
        layout = Layout(module, x)
        call = Call(x=layout.seq(x).detach(), y=layout.seq(y).detach(), lengths=layout.lengths,
                    h0=layout.state(h0), c0=layout.state(c0), order=next(self._order))
        self.calls.setdefault(id(module), []).append(call)
        if self._grads:
            self._keep_grad(call, "y", y.data if isinstance(y, PackedSequence) else y, layout.grad_of(y))
            self._keep_grad(call, "h_n", h_n, layout.state)
            self._keep_grad(call, "c_n", c_n, layout.state)

    def _keep_grad(self, call: Call, name: str, t: torch.Tensor | None, to_batch_first) -> None:
        if t is None or not t.requires_grad:
            return

        def keep(g):
            call.grads[name] = to_batch_first(g).detach()

        self._handles.append(t.register_hook(keep))


class Layout:
    """How one call's tensors are laid out: batch first or not, packed or not, batched or not."""

    def __init__(self, module: nn.Module, x):
        self.batch_first = module.batch_first
        self.packed = isinstance(x, PackedSequence)
        self.unbatched = not self.packed and x.dim() == 2  # (T, D): nn.RNN's unbatched form
        self.lengths = None
        self.T = None
        if self.packed:
            padded, self.lengths = pad_packed_sequence(x, batch_first=True)
            self.T = padded.shape[1]

    def seq(self, t) -> torch.Tensor:
        """A sequence tensor -> (B, T, F)."""
        if self.packed:
            return pad_packed_sequence(t, batch_first=True, total_length=self.T)[0]
        if self.unbatched:
            return t.unsqueeze(0)
        return t if self.batch_first else t.transpose(0, 1)

    def state(self, s):
        """A state tensor -> (L*dirs, B, H), detached; None stays None."""
        if s is None:
            return None
        return (s.unsqueeze(1) if self.unbatched else s).detach()

    def grad_of(self, y):
        """The function mapping a gradient of the output (as autograd hands it) to (B, T, H_out)."""
        if isinstance(y, PackedSequence):
            return lambda g: self.seq(PackedSequence(g, y.batch_sizes, y.sorted_indices, y.unsorted_indices))
        return self.seq
