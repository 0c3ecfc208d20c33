"""``pipelines.processing`` is a package of one module per step; what the rest of embodiq
imports from it stays importable from the package, and the process that hands out work still
imports none of the reading and checking code."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pipelines.processing
from pipelines.demo import DEMO_SET
from tests.pipelines.cli_probe import run_cli_probe
from tests.pipelines.demo_files import copy_recording

ROOT = Path(__file__).resolve().parents[2]

#: What ``embodiq check`` runs in its workers only (the fork server preloads it).
_WORKER_ONLY = ("numba", "pyarrow", "cv2", "polars", "pipelines.frames", "checks.digest")



def test_every_name_imported_from_processing_is_exported_by_the_package():
    wanted: dict[str, str] = {}
    for folder in ("pipelines", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module == "pipelines.processing":
                    for alias in node.names:
                        wanted.setdefault(alias.name, str(path.relative_to(ROOT)))
    assert len(wanted) > 20  # the walk found the pipeline's imports
    missing = {name: where for name, where in wanted.items()
               if name not in pipelines.processing.__all__}
    assert not missing, f"not exported by pipelines.processing: {missing}"
    for name in pipelines.processing.__all__:
        assert hasattr(pipelines.processing, name), name


def test_the_check_command_reads_only_in_its_workers(demo_recordings, tmp_path):
    """The parent of ``embodiq check`` hands out recordings and collects verdicts: it never
    imports the readers, the kernels or the frames code (numba, pyarrow, OpenCV); and nothing
    of it, workers included, loads the report's matplotlib."""
    data = tmp_path / "in"
    for rec in [r for r in DEMO_SET if r.defect is None][:2]:
        copy_recording(demo_recordings, rec, data)
    out = tmp_path / "loaded.txt"
    res = run_cli_probe(tmp_path, f"""
        loaded = [m for m in {_WORKER_ONLY!r} if m in sys.modules]
        with open({str(out)!r}, "w") as fh:
            fh.write(repr(loaded))
        # what the workers (forked from the same server as the check's) have loaded
        from pipelines.processing.pool import loaded_modules, run_tasks
        [res] = run_tasks(loaded_modules, [["matplotlib", "pipelines.report"]], workers=1)
        with open({str(out)!r} + ".workers", "w") as fh:
            fh.write(repr(res.value))
        """, "check", str(data), "--json", "--quiet", "--workers", "1", "--store",
                        str(tmp_path / "store"))
    assert res.returncode in (0, 1), res.stderr[-2000:]
    assert len(json.loads(res.stdout)["episodes"]) == 2
    assert out.read_text() == "[]", f"imported by the parent: {out.read_text()}"
    # matplotlib is for the commands that write reports: not even preloaded in check's workers
    workers = Path(f"{out}.workers").read_text()
    assert workers == "[]", f"loaded by the check's workers: {workers}"
