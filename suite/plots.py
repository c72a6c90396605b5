"""Figure helpers of the report: one style for every figure, a text-overlap check, and clipped-value marks.

`style_figure` is applied by the report to every figure before it is embedded; `text_overlaps` finds pairs
of text labels whose rendered bounding boxes intersect (matplotlib's Agg renderer, the one that writes the
PNG); `plot_clipped` draws a series whose values beyond a plotting limit are drawn at the limit with a
marker and the word "clipped", never silently.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, MaxNLocator, NullFormatter, NullLocator

MIN_FONT_PT = 9.0
LOG_MAJOR_TICKS = 6  # at most this many labelled decades per log axis (LogLocator skips decades beyond)


def _undrawn_tick_labels(fig: Figure) -> set[int]:
    """ids of the tick labels the axes do not draw: ticks outside the view interval (the locator makes them, e.g.
    -25 on a 0..100 axis) and spare ticks beyond the current locations (left from an earlier, longer set of
    locations, with stale labels). Both stay visible text artists, but the axis never draws them."""
    out = set()
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            scale = axis.get_transform().transform  # compare in the axis' scale (log10 on a log axis)
            lo, hi = sorted(scale(np.asarray(axis.get_view_interval(), dtype=float)))
            tol = 1e-9 * (hi - lo)
            for ticks, locs in ((axis.majorTicks, axis.get_majorticklocs()), (axis.minorTicks, axis.get_minorticklocs())):
                for k, tick in enumerate(ticks):
                    pos = scale(np.array([tick.get_loc()], dtype=float))[0]
                    if k >= len(locs) or not lo - tol <= pos <= hi + tol:
                        out.update((id(tick.label1), id(tick.label2)))
    return out


def _texts(fig: Figure) -> list[Text]:
    """Every drawn, non-empty text artist of `fig` (titles, labels, tick labels, legends, annotations)."""
    undrawn = _undrawn_tick_labels(fig)
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.figure is not None
            and id(t) not in undrawn]


def _legend_outside(ax: Axes) -> None:
    """Redraw the axes' legend to the right of the axes (never over the data), same handles and labels."""
    legend = ax.get_legend()
    if legend is None:
        return
    handles, labels = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
    title = legend.get_title().get_text()
    ax.legend(handles, labels, title=title or None, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0.0, fontsize=MIN_FONT_PT, title_fontsize=MIN_FONT_PT)


def _log_ticks(ax: Axes) -> None:
    """At most LOG_MAJOR_TICKS labelled decades per log axis, unlabelled minor ticks; an axis with no power of
    10 inside its view gets at most 3 labelled round values instead (else it would show no label at all)."""
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale != "log":
            continue
        lo, hi = sorted(axis.get_view_interval())
        if lo > 0 and math.floor(math.log10(hi)) < math.ceil(math.log10(lo)):  # no power of 10 inside
            axis.set_major_locator(MaxNLocator(nbins=3))
            axis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
            axis.set_minor_locator(NullLocator())
        else:
            axis.set_major_locator(LogLocator(base=10, numticks=LOG_MAJOR_TICKS))
            axis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 0.1, numticks=12))
        axis.set_minor_formatter(NullFormatter())


def style_figure(fig: Figure) -> Figure:
    """The report's figure style, in place: constrained layout, every text at least `MIN_FONT_PT` points,
    legends outside the axes, at most `LOG_MAJOR_TICKS` labelled decades per log axis."""
    for ax in fig.get_axes():
        if ax.get_label() == "<colorbar>":
            continue
        _log_ticks(ax)
        _legend_outside(ax)
    for t in _texts(fig):
        if t.get_fontsize() < MIN_FONT_PT:
            t.set_fontsize(MIN_FONT_PT)
    try:
        fig.set_layout_engine("constrained")
    except RuntimeError:  # a colorbar made under another engine: keep that engine
        pass
    return fig


def text_overlaps(fig: Figure, pad_px: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of texts of `fig` whose bounding boxes (as drawn by the Agg renderer) intersect by more than
    `pad_px` pixels on both axes; [] when every label stands free."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(fig)]
    out = []
    for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
        dx = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
        dy = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
        if dx > pad_px and dy > pad_px:
            out.append((a, b))
    return out


def axes(title: str, xlabel: str, ylabel: str, *, logx: bool = False, logy: bool = False,
         figsize: tuple[float, float] = (6.4, 4.0)) -> tuple[Figure, Axes]:
    """A one-axes figure with its title, axis labels, scales and a light grid (the studies' common case)."""
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot(111)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xscale="log" if logx else "linear",
           yscale="log" if logy else "linear")
    ax.grid(True, which="both", alpha=0.3)
    return fig, ax


def lines(ax: Axes, df, x: str, y: str, by, **style) -> None:
    """One marked line of column y vs column x of the DataFrame `df` per group of `by`, with a legend."""
    for name, g in df.groupby(by, sort=False):
        ax.plot(g[x], g[y], marker="o", label=name if isinstance(name, str) else ": ".join(map(str, name)), **style)
    ax.legend()


def _runs(mask: np.ndarray) -> list[int]:
    """Index of the first element of every run of consecutive True values of a 1-D boolean mask."""
    return [int(i) for i in np.flatnonzero(mask & ~np.concatenate([[False], mask[:-1]]))]


def plot_clipped(ax: Axes, x: Sequence[float], y: Sequence[float], *, lower: float | None = None,
                 upper: float | None = None, annotate: bool = True, **kwargs):
    """Plot y(x) with values outside [lower, upper] (+-inf included; NaN stays a gap) drawn at the bound they
    exceed. Each run of consecutive clipped points is marked once, at its first point, with an open triangle
    and the text "clipped (value)" (or "clipped (n points, up to value)"), inside the axes (left of the mark
    in the series' right half) and stacked below (upper) or above (lower) the labels already there, so long
    clipped stretches and curves clipped at the same place stay readable. annotate=False draws the triangles only,
    for panels too dense for text (then say what the triangles mean in an axis label). Returns the line."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    shown = np.clip(y, -np.inf if lower is None else lower, np.inf if upper is None else upper)
    (line,) = ax.plot(x, shown, **kwargs)
    for bound, side, marker in ((upper, 1, "^"), (lower, -1, "v")):
        if bound is None:
            continue
        mask = side * (y - bound) > 0
        for i in _runs(mask):
            n = int(np.argmin(np.append(mask[i:], False)))  # length of the run starting at i
            run = y[i:i + n]
            worst = run[np.argmax(side * run)]
            text = f"clipped ({_short(worst)})" if n == 1 else f"clipped ({n} points, up to {_short(worst)})"
            stacked = sum(t.get_text().startswith("clipped") for t in ax.texts)
            ax.plot([x[i]], [bound], linestyle="none", marker=marker, markersize=9, markerfacecolor="none",
                    color=line.get_color())  # an explicit colour: the axes' colour cycle is not advanced
            if not annotate:
                continue
            right = i > (len(x) - 1) / 2  # in the right half of the series: text to the left of the mark
            ax.annotate(text, (x[i], bound), textcoords="offset points", ha="right" if right else "left",
                        xytext=(-4 if right else 4, -side * (6 + 12 * stacked) - (MIN_FONT_PT if side > 0 else 0)),
                        fontsize=MIN_FONT_PT, color=line.get_color())
    return line


def _short(v: float) -> str:
    return f"{v:.2g}" if math.isfinite(v) else str(v)
