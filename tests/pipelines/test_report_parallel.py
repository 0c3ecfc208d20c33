"""The report's figures are drawn on the worker pool: the page is the one drawing them here
would give, in the same order, whatever the number of workers; a figure whose worker fails
is drawn here instead, and one that cannot be drawn at all leaves a note, never a lost report.
``embodiq check`` keeps matplotlib out of its workers; the commands that write reports have it
preloaded there."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
from pathlib import Path

import pytest
from export_fixtures import HandEpisode, write_version
from test_report import Page

from pipelines.processing.pool import loaded_modules, run_tasks
from pipelines.report import figures
from pipelines.report.build import render
from pipelines.report.model import ReportData, from_published
from pipelines.runner import import_in_background
from pipelines.store import Store
from tests.pipelines.cli_probe import run_cli_probe, run_python_probe


@pytest.fixture(scope="module")
def lab_store(tmp_path_factory) -> Store:
    """Three published episodes (one with a camera, one longer) and one rejected
    without its recording: five figures to draw, one episode without a plot."""
    store = Store(tmp_path_factory.mktemp("store"))
    write_version(store, "lab", [
        HandEpisode("ep-a", cameras=("cam",), idle_span_frames=(5, 30)),
        HandEpisode("ep-b", n_frames=60, started=1),
        HandEpisode("ep-c", started=2, task="stack the blocks"),
        HandEpisode("ep-f", passed=False, grade="F", started=3)])
    return store


@pytest.fixture(scope="module")
def lab(lab_store) -> ReportData:
    return from_published(lab_store.version("lab"), lab_store.quarantine_dir, 20)


def _page(text: str) -> str:
    """The page without the minute it was made at."""
    return re.sub(r"made by embodiq on [^;<]*", "made by embodiq on …", text)


def _serial(data: ReportData) -> dict[str, str]:
    """Every figure drawn in this process, the way the report drew them before workers."""
    out = {"summary": figures.summary_figure(data.episodes),
           "distributions": figures.distributions_figure(data.episodes)}
    for e in data.episodes:
        if e.series:
            out[e.uid] = figures.episode_figure(e)
    return out


def test_figures_drawn_on_workers_are_the_ones_drawn_here_in_page_order(lab):
    page = render(lab, workers=2)
    images = [i for i in Page(page).images if i["class"] == "plot"]
    want = _serial(lab)
    # the two summaries first, then one per plotted episode in the page's order
    assert [i["src"] for i in images] == list(want.values())
    assert [i["uid"] for i in images[2:]] == [e.uid for e in lab.episodes if e.series]
    assert len(images) == 2 + 3  # the rejected episode without a recording has no plot
    sections = [s["data-uid"] for s in Page(page).sections]
    assert sections == [e.uid for e in lab.episodes]


def test_one_worker_and_one_episode_give_the_same_page(lab):
    assert _page(render(lab, workers=1)) == _page(render(lab, workers=2))
    one = dataclasses.replace(lab, episodes=lab.episodes[-1:])
    assert one.episodes[0].series
    images = [i["src"] for i in Page(render(one, workers=1)).images if i["class"] == "plot"]
    assert images == list(_serial(one).values())


class _KillsItsWorker(str):
    """A name that, unpickled on a worker, ends that worker's process: a real worker death, as
    a crash in a native library would be. Dying as it takes its task, before it could say
    which task it runs, the worker leaves the whole pool broken: the harshest case."""

    def __reduce__(self):
        return os._exit, (7,)


def test_figures_whose_workers_die_are_drawn_here_instead(lab, caplog):
    killer = [dataclasses.replace(e, site=_KillsItsWorker(e.site)) for e in lab.episodes]
    data = dataclasses.replace(lab, episodes=killer)
    with caplog.at_level(logging.WARNING, logger="pipelines.report.build"):
        page = render(data, workers=2)
    redrawn = [r.getMessage() for r in caplog.records
               if "not drawn on its worker" in r.getMessage()]
    assert len(redrawn) == 5, caplog.text  # no figure came back from the workers ...
    assert _page(page) == _page(render(lab, workers=2))  # ... and the page is the same
    # a new pool replaced the broken one: the next report draws on workers again
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pipelines.report.build"):
        render(lab, workers=2)
    assert not caplog.records, caplog.text


def test_a_figure_that_cannot_be_drawn_leaves_a_note_and_the_rest_of_the_page(lab, caplog):
    broken = lab.episodes[1]
    assert broken.series
    s = broken.series[0]
    # one sample time fewer than samples: matplotlib refuses to plot it, there and here
    bad = dataclasses.replace(broken, series=[dataclasses.replace(s, t_s=s.t_s[:-1]),
                                              *broken.series[1:]])
    data = dataclasses.replace(lab, episodes=[*lab.episodes[:1], bad, *lab.episodes[2:]])
    with caplog.at_level(logging.WARNING, logger="pipelines.report.build"):
        page = render(data, workers=2)
    log = caplog.text
    assert "episode figure of the report was not drawn on its worker (ValueError" in log
    assert "the episode figure could not be drawn: ValueError" in log
    parsed = Page(page)
    plots = {i["uid"]: i["src"] for i in parsed.images if i["class"] == "plot"}
    want = _serial(lab)
    assert bad.uid not in plots
    assert all(plots[e.uid] == want[e.uid] for e in lab.episodes if e.series and e is not broken)
    section = page.split(f'data-uid="{bad.uid}"', 1)[1].split("</section>", 1)[0]
    assert '<p class="note">this figure could not be drawn (ValueError: ' in section
    assert section.count('class="finding"') == len(bad.findings)  # its findings still listed
    from pipelines.report.pyplot import plt

    assert not plt.get_fignums()  # the half-drawn figure was closed


def test_drawing_a_figure_needs_no_frame_reader(lab):
    """A figure task carries data only: the camera's frame reader stays in this process."""
    import pickle

    cam = next(e for e in lab.episodes if e.frame_at)
    task = figures.FigureTask.of("episode", [cam])
    assert not task.episodes[0].frame_at
    assert figures.draw(pickle.loads(pickle.dumps(task))) == figures.episode_figure(cam)
    summary = figures.FigureTask.of("summary", lab.episodes)
    assert all(not e.series for e in summary.episodes)


def _report_in(root: str, out: str) -> None:
    from pipelines.report import build_report

    build_report(Path(out), store=Store(Path(root)), name="lab", workers=2)


def test_a_process_that_may_not_start_workers_draws_the_figures_itself(lab_store, tmp_path):
    """A daemonic process (a Celery pool process, say) may not have children: no pool, and
    still the whole report."""
    import multiprocessing

    out = tmp_path / "lab.html"
    child = multiprocessing.get_context("spawn").Process(
        target=_report_in, args=(str(lab_store.root), str(out)), daemon=True)
    child.start()
    child.join(timeout=600)
    assert child.exitcode == 0
    assert len([i for i in Page(out.read_text()).images if i["class"] == "plot"]) == 5


def test_the_report_commands_preload_matplotlib_in_the_workers_only(tmp_path):
    res = run_python_probe(tmp_path, """
        import sys
        from pipelines.processing import pool
        pool.preload_also(pool.REPORT_MODULES, start=True)
        [res] = pool.run_tasks(pool.loaded_modules, [["matplotlib.pyplot"]], workers=1)
        print(res.value, "matplotlib" in sys.modules)
        """)
    assert res.returncode == 0, res.stderr[-2000:]
    # the worker had it before any figure was asked of it; the parent did not import it
    assert res.stdout.split() == ["['matplotlib.pyplot']", "False"]


def test_the_report_command_writes_the_page_without_matplotlib_in_its_process(lab_store,
                                                                              tmp_path):
    """Its figures are drawn on the workers: the process writing the page never imports
    matplotlib (a second of its time, before any figure)."""
    out = tmp_path / "lab.html"
    res = run_cli_probe(tmp_path, 'print("matplotlib" in sys.modules)', "report", "lab",
                        "--store", str(lab_store.root), "--out", str(out), "--quiet")
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split()[-1] == "False", res.stdout
    assert len([i for i in Page(out.read_text()).images if i["class"] == "plot"]) == 5


def test_a_dataset_report_workers_load_only_what_figures_need(lab_store, tmp_path):
    """A published dataset's report reads no recording: its workers are started without the
    reading and checking code (numba, the check catalogue), only with matplotlib."""
    out = tmp_path / "lab.html"
    after = """
        from pipelines.processing.pool import loaded_modules, run_tasks
        [r] = run_tasks(loaded_modules, [["matplotlib", "numba", "checks.catalog.motion"]],
                        workers=1)
        print(r.value)
    """
    res = run_cli_probe(tmp_path, after, "report", "lab", "--store", str(lab_store.root),
                        "--out", str(out), "--quiet")
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == "['matplotlib']", res.stdout
    assert len([i for i in Page(out.read_text()).images if i["class"] == "plot"]) == 5


def test_loaded_modules_reads_the_worker():
    [res] = run_tasks(loaded_modules, [["json", "embodiq_no_such_module"]], workers=1)
    assert res.status == "ok" and res.value == ["json"]


def test_a_background_import_is_ready_when_used_and_its_error_raised_there():
    assert "pipelines.report" in sys.modules  # imported by this file: the thread finds it
    import_in_background("pipelines.report").join()
    name = "embodiq_no_such_module_for_the_report"
    t = import_in_background(name)
    t.join()
    assert not t.is_alive() and name not in sys.modules
    with pytest.raises(ModuleNotFoundError, match=name):
        __import__(name)


def test_a_background_import_loads_the_module(tmp_path, monkeypatch):
    (tmp_path / "embodiq_warm_probe.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import_in_background("embodiq_warm_probe").join()
    assert sys.modules["embodiq_warm_probe"].VALUE == 42
    monkeypatch.delitem(sys.modules, "embodiq_warm_probe")
