"""Pure Plotly figure builders for the dashboard: plain data in (RunSeries, arrays), go.Figure out.

The page reads the store, fills one RunSeries per run and calls a builder; nothing here touches
streamlit or the store. The builders live in files by subject and are re-exported here:
base (input type, layout, downsampling), marks (reference lines, epochs, events), labels
(reference labels kept apart), train (curves), spectrum (W_h and state-Jacobian spectra),
reach (gradient reach), health (gradient histograms, saturation, logits, weights), fit (a
figure shaped for its cell in the grid).
"""

from app.charts.base import (
    MAX_POINTS,
    PALETTE,
    SMOOTHING,
    WAITING,
    ArraySeries,
    Event,
    RunSeries,
    Series,
    colors,
    minmax_downsample,
)
from app.charts.clipping import clip_segments, grad_norm_figure
from app.charts.health import (
    grad_histogram_figure,
    grad_histogram_overlay,
    grad_histograms,
    logit_figure,
    saturation_figure,
    weights_figure,
)
from app.charts.reach import predicted_reach, reach_heatmap_figure, reach_heatmaps, reach_profile_figure
from app.charts.spectrum import eigenvalue_figure, jacobian_figure, spectrum_over_time_figure
from app.charts.train import (
    difference_figure,
    loss_figure,
    lr_figure,
    lr_preview_figure,
    perplexity_figure,
)

__all__ = [
    "MAX_POINTS",
    "PALETTE",
    "SMOOTHING",
    "WAITING",
    "ArraySeries",
    "Event",
    "RunSeries",
    "Series",
    "clip_segments",
    "colors",
    "difference_figure",
    "eigenvalue_figure",
    "grad_histogram_figure",
    "grad_histogram_overlay",
    "grad_histograms",
    "grad_norm_figure",
    "jacobian_figure",
    "logit_figure",
    "loss_figure",
    "lr_figure",
    "lr_preview_figure",
    "minmax_downsample",
    "perplexity_figure",
    "predicted_reach",
    "reach_heatmap_figure",
    "reach_heatmaps",
    "reach_profile_figure",
    "saturation_figure",
    "spectrum_over_time_figure",
    "weights_figure",
]
