"""The overview's charts: drawn as SVG on the server (core/stats/charts.py) from the database's
buckets (db.stats.timeline, api/stats/service.charts). The console's browser test shows them at
1280 and 375 px (tests/console/test_console_browser.py)."""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from api.stats import service as stats_service
from core.stats.charts import HEIGHT, LEFT, TOP, WIDTH, Series, line_chart
from db.session import async_engine, async_session_factory

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2031, 1, 1, 10, 0, tzinfo=UTC)


def drawn(series: list[Series], minutes: int = 5) -> ET.Element:
    times = [T0 + timedelta(minutes=i) for i in range(minutes)]
    chart = line_chart(chart_id="c", title="Jobs <per> minute", times=times, series=series, unit="jobs/min")
    assert "style=" not in chart.svg and "<script" not in chart.svg  # the console's CSP allows neither
    return ET.fromstring(chart.svg)


def points(element: ET.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in element.get("points", "").split()]


def test_a_series_is_a_line_scaled_to_a_round_top() -> None:
    svg = drawn([Series("succeeded", [0, 1, 2, 3, 4], "#009e73")])
    [line] = svg.iter(f"{SVG}polyline")
    plotted = points(line)
    assert len(plotted) == 5 and plotted[0][0] == LEFT and plotted[-1][0] == WIDTH - 8
    # 0 at the bottom of the plot, 4 (under the axis's top of 5) at 4/5 of its height.
    bottom, plot_h = HEIGHT - 24, HEIGHT - 24 - TOP
    assert plotted[0][1] == bottom and abs(plotted[-1][1] - (bottom - plot_h * 4 / 5)) < 0.11
    labels = [text.text for text in svg.iter(f"{SVG}text")]
    assert labels[:3] == ["0", "2.5", "5"] and "10:00" in labels and "10:04" in labels
    assert svg.find(f"{SVG}title").text == "Jobs <per> minute"  # escaped in the markup, read back whole
    assert "succeeded: highest 4 jobs/min" in svg.find(f"{SVG}desc").text


def test_a_gap_breaks_the_line_and_a_lone_point_is_a_dot() -> None:
    svg = drawn([Series("llm", [1.0, 2.0, None, 3.0, None], "#0072b2")])
    assert [len(points(line)) for line in svg.iter(f"{SVG}polyline")] == [2]
    assert len(list(svg.iter(f"{SVG}circle"))) == 1


def test_names_and_colours_cannot_break_out_of_the_markup() -> None:
    hostile = '"/><script>alert(1)</script>'
    chart = line_chart(
        chart_id="c", title=hostile, times=[T0], series=[Series(hostile, [1.0], hostile)], unit=hostile
    )
    assert "<script>" not in chart.svg
    ET.fromstring(chart.svg)  # still one well-formed SVG


def test_nothing_to_draw_says_so() -> None:
    chart = line_chart(chart_id="c", title="t", times=[T0], series=[], unit="s")
    assert chart.empty and "no data in this window" in chart.svg


def test_the_database_buckets_jobs_per_minute_and_each_lanes_queue_wait(on_the_stack) -> None:
    """Jobs dated in 2031 (no other test's jobs are there): 3 succeeded and 1 failed created in the
    minute 10:02, waiting 2, 2, 2 and 8 s on the cpu lane; one succeeded at 10:04 on the llm lane."""
    rows = [
        ("succeeded", "cpu", 2, 2),
        ("succeeded", "cpu", 2, 2),
        ("succeeded", "cpu", 2, 2),
        ("failed", "cpu", 2, 8),
        ("succeeded", "llm", 4, 1),
    ]
    for status, queue, minute, wait_s in rows:
        created = T0 + timedelta(minutes=minute, seconds=10)
        on_the_stack.sql(
            "INSERT INTO jobs (id, kind, status, input, attempts, max_attempts, queue, priority, held, "
            "created_at, started_at, completed_at) VALUES (%s, 'debug.sleep', %s, '{}', 1, 1, %s, 0, false, "
            "%s, %s, %s)",
            uuid.uuid4(),
            status,
            queue,
            created,
            created + timedelta(seconds=wait_s),
            created + timedelta(seconds=wait_s + 1),
        )

    async def draw() -> list[stats_service.WindowCharts]:
        try:
            async with async_session_factory()() as session:
                admin = SimpleNamespace(is_superuser=True)
                return await stats_service.charts(session, user=admin, now=T0 + timedelta(minutes=5))
        finally:
            await async_engine().dispose()

    try:
        hour, day = asyncio.run(draw())
    finally:
        on_the_stack.sql("DELETE FROM jobs WHERE created_at >= %s", T0)
    assert (hour.slug, day.slug) == ("hour", "day")
    jobs = {series.name: series.values for series in hour.jobs.series}
    assert set(jobs) == {"succeeded", "failed"} and len(jobs["succeeded"]) == 60
    # The hour's last bucket is 10:05; 10:02 is three before it, 10:04 one before.
    assert jobs["succeeded"][-4:] == [3.0, 0.0, 1.0, 0.0] and jobs["failed"][-4:] == [1.0, 0.0, 0.0, 0.0]
    assert sum(jobs["succeeded"]) == 4
    waits = {series.name: series.values for series in hour.queue_wait.series}
    assert waits["llm"][-4:] == [None, None, 1.0, None]
    # p95 of 2, 2, 2 and 8 s, interpolated as PostgreSQL's percentile_cont does: at 0.95 x 3 = 2.85
    # of the way from the first value to the last, 85 % of the way from 2 s to 8 s.
    assert abs(waits["cpu"][-4] - (2 + 0.85 * 6)) < 1e-9
    # The day's half-hour buckets: all five jobs in the one of 10:00, as jobs per minute.
    day_jobs = {series.name: series.values for series in day.jobs.series}
    assert day_jobs["succeeded"][-1] == 4 / 30 and len(day_jobs["succeeded"]) == 48
