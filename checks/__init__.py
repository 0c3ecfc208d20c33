"""What judges the data: numba kernels, one module per check, the registry and grading.

Checks are pure functions of an episode (or of episode digests, for dataset checks); nothing
here imports Dagster or touches the store.
"""

from checks.grading import Grade, grade_of, quality_score
from checks.registry import (
    DatasetContext,
    EpisodeContext,
    all_checks,
    run_dataset_checks,
    run_episode_checks,
)

__all__ = [
    "DatasetContext",
    "EpisodeContext",
    "Grade",
    "all_checks",
    "grade_of",
    "quality_score",
    "run_dataset_checks",
    "run_episode_checks",
]
