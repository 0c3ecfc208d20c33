"""A long-lived process warms its pool up: the check kernels are loaded before the first
recording arrives (a distributed-executor worker does it as it starts)."""

from __future__ import annotations

import ast

from tests.pipelines.cli_probe import run_python_probe


def test_warm_up_loads_the_check_kernels_in_the_pool(tmp_path):
    res = run_python_probe(tmp_path, """
        from pipelines.processing.pool import run_tasks, warm_up
        from pipelines.processing.warmup import loaded_kernels
        [before] = run_tasks(loaded_kernels, [None], workers=1)
        [warmed] = warm_up(1)
        [after] = run_tasks(loaded_kernels, [None], workers=1)
        print(before.value)
        print(warmed.status)
        print(after.value)
        """)
    assert res.returncode == 0, res.stderr[-2000:]
    before, status, after = res.stdout.strip().splitlines()[-3:]
    assert before == "[]"  # a fresh pool process has loaded none
    assert status == "ok"
    loaded = ast.literal_eval(after)
    assert "checks.kernels.motion.velocity_scan" in loaded
    assert any(k.startswith("checks.kernels.video.") for k in loaded)  # the camera's too
