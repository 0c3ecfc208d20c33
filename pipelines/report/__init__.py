"""The quality report: one self-contained HTML page that shows where every defect sits."""

from pipelines.report.build import build_report

__all__ = ["build_report"]
