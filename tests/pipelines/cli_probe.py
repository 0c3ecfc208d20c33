"""``embodiq`` run in a fresh process, with a few lines run in that process after the command,
whatever its exit: how a test sees what the command's own process (and its workers) loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """\
import sys
if __name__ == "__main__":
    from pipelines.cli.main import run
    sys.argv = ["embodiq", *sys.argv[1:]]
    try:
        run()
    finally:
{after}
"""


def run_cli_probe(folder: Path, after: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``embodiq args`` in a new Python process, then ``after`` (code that sees ``sys``) in
    that same process; its output captured. The probe script is written into ``folder``."""
    probe = folder / "probe.py"
    body = textwrap.indent(textwrap.dedent(after).strip(), " " * 8)
    probe.write_text(_SCRIPT.format(after=body))
    return subprocess.run([sys.executable, str(probe), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
