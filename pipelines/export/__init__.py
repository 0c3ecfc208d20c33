"""Training exports of a published version: LeRobot v3.0 datasets and plain Parquet."""

from pipelines.export.core import FORMATS, export_command, export_dataset
from pipelines.export.model import EpisodeSlice, ExportError, ExportSummary

__all__ = ["FORMATS", "EpisodeSlice", "ExportError", "ExportSummary", "export_command",
           "export_dataset"]
