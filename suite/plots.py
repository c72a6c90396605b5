"""Figure helpers of the report: one style for every figure, a text-overlap check, and clipped-value marks.

`style_figure` is applied by the report to every figure before it is embedded; `text_overlaps` finds pairs
of text labels whose rendered bounding boxes intersect (matplotlib's Agg renderer, the one that writes the
PNG); `plot_clipped` draws a series whose values beyond a plotting limit are drawn at the limit with a
marker and the word "clipped", never silently.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

MIN_FONT_PT = 9.0
LOG_MAJOR_TICKS = 6  # at most this many labelled decades per log axis (LogLocator skips decades beyond)


def _in_view(axis, value: float) -> bool:
    """Whether `value` lies within the axis' view limits, compared in its scale (log10 on a log axis)."""
    lo, hi = sorted(axis.get_view_interval())
    if axis.get_scale() == "log":
        if value <= 0 or lo <= 0:
            return False
        value, lo, hi = math.log10(value), math.log10(lo), math.log10(hi)
    tol = 1e-9 * max(hi - lo, 1e-300)
    return lo - tol <= value <= hi + tol


def _undrawn_tick_labels(fig: Figure) -> set[int]:
    """ids of tick labels whose tick lies outside its axis' view limits: matplotlib keeps them (visible,
    with a stale position) but does not draw them."""
    hidden = set()
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not _in_view(axis, tick.get_loc()):
                    hidden |= {id(tick.label1), id(tick.label2)}
    return hidden


def _texts(fig: Figure) -> list[Text]:
    """Every drawn, non-empty text artist of `fig` (titles, labels, tick labels, legends, annotations)."""
    hidden = _undrawn_tick_labels(fig)
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.figure is not None
            and id(t) not in hidden]


def _xtick_overlap(ax: Axes) -> bool:
    """Whether two drawn x tick labels of `ax` overlap horizontally."""
    renderer = ax.figure.canvas.get_renderer()
    hidden = _undrawn_tick_labels(ax.figure)
    drawn = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text().strip() and id(t) not in hidden]
    boxes = [t.get_window_extent(renderer) for t in drawn]
    return any(a.x1 > b.x0 and b.x1 > a.x0 for a, b in itertools.combinations(boxes, 2))


def _untangle_xticks(ax: Axes) -> None:
    """When x tick labels overlap (long category names): break them onto lines of about 12, then 8
    characters; if they still overlap, turn them (unbroken) upright, 90 degrees."""
    if not _xtick_overlap(ax):
        return
    ticks, labels = ax.get_xticks(), [t.get_text() for t in ax.get_xticklabels()]
    if any(" " in s for s in labels):
        for width in (12, 8):
            ax.set_xticks(ticks, [textwrap.fill(s, width, break_long_words=False) for s in labels])
            if not _xtick_overlap(ax):
                return
        ax.set_xticks(ticks, labels)
    ax.tick_params(axis="x", labelrotation=90)


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
    """At most `LOG_MAJOR_TICKS` labelled decades per log axis; minor ticks unlabelled (see `_short_log_axis`)."""
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale == "log":
            axis.set_major_locator(LogLocator(base=10, numticks=LOG_MAJOR_TICKS))
            axis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 0.1, numticks=12))
            axis.set_minor_formatter(NullFormatter())


def _short_log_axis(axis) -> bool:
    """Label a log (or positive symlog) axis that shows fewer than two decades' ticks at 2 and 5 (or 2, 3,
    5, 7, or every digit, or also 1.2 and 1.5) times a power of ten, the first set to spread over at least
    half the axis, as plain numbers, so it still carries numbers to read values by (True if it did;
    `_drop_crowded_minor_labels` then removes those that touch a neighbour)."""
    lo, hi = sorted(axis.get_view_interval())
    if axis.get_scale() not in ("log", "symlog") or lo <= 0:  # symlog: only a view on its positive side
        return False
    majors = [v for v in axis.get_majorticklocs() if _in_view(axis, v)]
    if len(majors) >= 2:
        return False
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    for subs in ((2, 5), (2, 3, 5, 7), range(2, 10), (1.2, 1.5, *range(2, 10))):
        inside = [m * 10.0 ** k for k in decades for m in subs if _in_view(axis, m * 10.0 ** k)]
        shown = sorted(inside + majors)
        if len(shown) >= 2 and math.log10(shown[-1] / shown[0]) >= 0.5 * math.log10(hi / lo):
            break  # labels over at least half the axis
    axis.set_minor_locator(FixedLocator(inside))
    axis.set_minor_formatter(FuncFormatter(lambda v, pos: f"{v:g}"))
    return True


def _drop_crowded_minor_labels(axis) -> None:
    """Keep the minor tick labels (after a draw) that touch neither a major label nor a kept minor one."""
    renderer = axis.figure.canvas.get_renderer()
    kept = [t.label1.get_window_extent(renderer) for t in axis.get_major_ticks()
            if _in_view(axis, t.get_loc()) and t.label1.get_text()]
    locs = []
    for tick in axis.get_minor_ticks():
        if not _in_view(axis, tick.get_loc()):
            continue
        box = tick.label1.get_window_extent(renderer)
        if not any(box.overlaps(k) for k in kept):
            kept.append(box)
            locs.append(tick.get_loc())
    axis.set_minor_locator(FixedLocator(locs))


def _wrap_title(ax: Axes) -> None:
    """Break an axes title that is wider than its axes onto several lines (neighbouring titles never meet)."""
    title = ax.title
    text = title.get_text()
    if not text or "\n" in text:
        return
    renderer = ax.figure.canvas.get_renderer()
    ratio = title.get_window_extent(renderer).width / max(ax.get_window_extent(renderer).width, 1.0)
    if ratio > 0.95:
        title.set_text(textwrap.fill(text, width=max(int(0.9 * len(text) / ratio), 12)))


def style_figure(fig: Figure) -> Figure:
    """The report's figure style, in place: constrained layout, every text at least `MIN_FONT_PT` points,
    legends outside the axes, at most `LOG_MAJOR_TICKS` labelled decades per log axis (minor labels on
    short log axes), titles wider than their axes wrapped, overlapping x tick labels wrapped or turned upright."""
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
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()  # lays the axes out, so titles are measured against their final widths
    for ax in fig.get_axes():
        _wrap_title(ax)
        _untangle_xticks(ax)
    short = [axis for ax in fig.get_axes() for axis in (ax.xaxis, ax.yaxis) if _short_log_axis(axis)]
    if short:
        canvas.draw()  # the final layout (wrapped titles and labels), then thin out crowded labels
        for axis in short:
            _drop_crowded_minor_labels(axis)
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
