"""Training exports of a published version: LeRobot v3.0 datasets and plain Parquet."""

from pipelines.export.core import ExportError, ExportSummary, export_dataset

__all__ = ["ExportError", "ExportSummary", "export_dataset"]
