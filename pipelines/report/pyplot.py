"""matplotlib's pyplot on its file-only backend (Agg): all that drawing the report's figures
loads, preloaded in the workers of the commands that write reports (never in ``embodiq
check``'s), imported elsewhere only when a figure is drawn there."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["plt"]
