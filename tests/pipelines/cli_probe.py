"""Code run in a fresh Python process (``embodiq`` itself, or a few lines of ours after it):
how a test sees what a command's own process and its workers loaded, from nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CLI = """\
import sys
from pipelines.cli.main import run
sys.argv = ["embodiq", *sys.argv[1:]]
try:
    run()
finally:
{after}
"""


def run_python_probe(folder: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``code`` (run as ``__main__``, so it may start worker pools) in a new Python process
    with ``args``, from the repository; its output captured. The script is written into
    ``folder``."""
    probe = folder / "probe.py"
    body = textwrap.indent(textwrap.dedent(code).strip(), " " * 4)
    probe.write_text(f'if __name__ == "__main__":\n{body}\n')
    return subprocess.run([sys.executable, str(probe), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def run_cli_probe(folder: Path, after: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``embodiq args`` in a new Python process, then ``after`` (code that sees ``sys``) in
    that same process, whatever the command's exit; its output captured."""
    body = textwrap.indent(textwrap.dedent(after).strip(), " " * 4)
    return run_python_probe(folder, _CLI.format(after=body), *args)
