"""A long-lived process warms its pool up: the check kernels are loaded before the first
recording arrives (a distributed-executor worker does it as it starts)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = textwrap.dedent("""\
    if __name__ == "__main__":
        from pipelines.processing.pool import run_tasks, warm_up
        from pipelines.processing.warmup import loaded_kernels
        [before] = run_tasks(loaded_kernels, [None], workers=1)
        [warmed] = warm_up(1)
        [after] = run_tasks(loaded_kernels, [None], workers=1)
        print(before.value)
        print(warmed.status)
        print(after.value)
    """)


def test_warm_up_loads_the_check_kernels_in_the_pool(tmp_path):
    script = tmp_path / "warm.py"
    script.write_text(_SCRIPT)
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    before, status, after = res.stdout.strip().splitlines()[-3:]
    assert before == "[]"  # a fresh pool process has loaded none
    assert status == "ok"
    loaded = ast.literal_eval(after)
    assert "checks.kernels.motion.velocity_scan" in loaded
    assert any(k.startswith("checks.kernels.video.") for k in loaded)  # the camera's too
