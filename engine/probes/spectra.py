"""Spectra of the recurrence: W_h per layer and gate (eigenvalues, singular values).

A split probe: the training thread copies W_h's gate blocks, a probe worker decomposes them.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.probes.base import ProbeContext, SplitProbe
from engine.series import Series


class SpectrumProbe(SplitProbe):
    """W_h per layer and gate: eigenvalues, singular values, spectral radius, largest singular value."""

    EIG = Series("spectrum/eig/l{layer}/{gate}", "array", "eigenvalues of W_h's gate block, (n, 2): real and imaginary parts")
    SV = Series("spectrum/sv/l{layer}/{gate}", "array", "singular values of W_h's gate block, (n,), descending")
    RADIUS = Series("spectrum/radius/l{layer}/{gate}", "scalar", "spectral radius rho = max |eigenvalue|")
    SIGMA_MAX = Series("spectrum/sigma_max/l{layer}/{gate}", "scalar", "largest singular value sigma_max")
    series = (EIG, SV, RADIUS, SIGMA_MAX)
    # the training thread pays a copy of W_h (about 0.05 ms at H = 128); the worker pays an
    # eigendecomposition and an SVD per gate block (about 7 ms each at H = 128)

    @torch.no_grad()
    def capture(self, ctx: ProbeContext) -> dict:
        # before the update: the spectrum recorded at step s is that of the model after s updates
        return {(layer, g): w for layer in range(ctx.model.num_layers)
                for g, w in ctx.model.recurrent_weights(layer).items()}  # cloned (H, H) blocks, on the model's device

    def analyse(self, captured: dict) -> dict:
        out = {}
        for (layer, g), w in captured.items():
            out.update(spectrum(w.cpu().double(), layer, g))
        return out


def spectrum(w: torch.Tensor, layer: int, gate: str) -> dict:
    """SpectrumProbe's series of one square float64 matrix: eig (n, 2) real and imaginary, sv (n,), radius, sigma_max."""
    # torch's LAPACK runs on the engine's one thread; numpy's threaded OpenBLAS took 700 ms instead
    # of 6 ms at n = 128 when the other core was busy (measured)
    eig = torch.linalg.eigvals(w).numpy()
    sv = torch.linalg.svdvals(w).numpy()  # descending; 2x faster than numpy's svd here
    at = {"layer": layer, "gate": gate}
    return {
        SpectrumProbe.EIG.at(**at): np.stack([eig.real, eig.imag], axis=1),
        SpectrumProbe.SV.at(**at): sv,
        SpectrumProbe.RADIUS.at(**at): float(np.abs(eig).max()),
        SpectrumProbe.SIGMA_MAX.at(**at): float(sv[0]),
    }
