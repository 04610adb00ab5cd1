"""The acknowledgement curve (issue 17): whole people on the y axis, the line ends when the activation
did, the time limit is not stretched over a short run, and the legend sits beside the data."""

from __future__ import annotations

from notifier.domain.calltree import ActivationKind
from notifier.domain.events import Cancel, Start
from notifier.domain.planner import initial_state
from notifier.reports.figures import compute
from notifier.reports.render import curve_figure, curve_layout, plot_curve
from tests.reports.scenario import T0, Driver, play_seed_outage, seed_snapshot


def cancelled_test() -> Driver:
    """A test activation of the SEED tree (45-minute limit) cancelled 45 seconds after the start."""
    from datetime import timedelta

    snap = seed_snapshot(ActivationKind.TEST, time_limit=timedelta(minutes=45))
    d = Driver(snap, start=T0, now=T0, state=initial_state(snap, T0))
    d.step(Start())
    d.at(0.75).step(Cancel(by="coordinator@example.org"))
    return d


def test_the_curve_ends_at_completion() -> None:
    driver = play_seed_outage(seed_snapshot())
    data = compute(driver.record(), driver.log, [])
    layout = curve_layout(data)
    assert data.completion_s is not None
    assert layout.end_min == data.completion_s / 60 and layout.limit_shown
    axes = curve_figure(data).axes[0]
    line = axes.get_lines()[0]
    assert max(line.get_xdata()) == layout.end_min  # not drawn on to the edge of the chart


def test_a_cancelled_45_second_test_is_not_drawn_for_45_minutes() -> None:
    driver = cancelled_test()
    data = compute(driver.record(), driver.log, [])
    assert data.status == "cancelled"
    layout = curve_layout(data)
    assert layout.end_min == 0.75 and not layout.limit_shown and layout.axis_min < 1
    labels = [t.get_text() for t in curve_figure(data).axes[0].get_legend().get_texts()]
    assert "time limit 45 min (off the chart)" in labels
    assert plot_curve(data).startswith(b"\x89PNG")


def test_whole_people_on_the_y_axis_and_the_legend_beside_the_plot() -> None:
    driver = play_seed_outage(seed_snapshot())
    data = compute(driver.record(), driver.log, [])
    figure = curve_figure(data)
    axes = figure.axes[0]
    ticks = [t for t in axes.get_yticks() if 0 <= t <= data.counts.notified]
    assert ticks and all(float(t).is_integer() for t in ticks)
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    legend = axes.get_legend().get_window_extent(renderer)
    plot = axes.get_window_extent(renderer)
    assert legend.x0 >= plot.x1  # never over the data
