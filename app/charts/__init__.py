"""Pure Plotly figure builders for the dashboard: plain data in (RunSeries, arrays), go.Figure out.

The page reads the store, fills one RunSeries per run and calls a builder; nothing here touches
streamlit or the store. The builders live in files by subject and are re-exported here:
base (input type, layout, downsampling), marks (reference lines, epochs, events), train
(curves), spectrum (W_h spectrum, gradient reach), health (gradient histograms, saturation,
logits, weights), fit (a figure shaped for its cell in the grid).
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
from app.charts.health import (
    grad_histogram_figure,
    grad_histogram_overlay,
    logit_figure,
    saturation_figure,
    weights_figure,
)
from app.charts.spectrum import (
    eigenvalue_figure,
    reach_heatmap_figure,
    reach_profile_figure,
    spectrum_over_time_figure,
)
from app.charts.train import (
    difference_figure,
    grad_norm_figure,
    loss_figure,
    lr_figure,
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
    "colors",
    "difference_figure",
    "eigenvalue_figure",
    "grad_histogram_figure",
    "grad_histogram_overlay",
    "grad_norm_figure",
    "logit_figure",
    "loss_figure",
    "lr_figure",
    "minmax_downsample",
    "perplexity_figure",
    "reach_heatmap_figure",
    "reach_profile_figure",
    "saturation_figure",
    "spectrum_over_time_figure",
    "weights_figure",
]
