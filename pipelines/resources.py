"""The one Dagster resource: where the store is and how recordings are judged."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from pipelines.frames import DEFAULT_FPS
from pipelines.processing import DEFAULT_TIMEOUT_S, default_workers
from pipelines.store import Store
from robots.profile import ProfileCatalog
from schemas.quality_profile import QualityProfile, load_quality_profile


class EmbodiqResource(dg.ConfigurableResource):
    """Store root, quality profile and the dataset clock, shared by every asset and sensor."""

    store_root: str | None = None
    quality_profile: str = "default"
    #: The frames table's clock; None means the dataset's recorded rate, else 30 fps.
    fps: float | None = None
    #: Write the HTML quality report of every new published version (<store>/reports/).
    write_report: bool = True
    #: Worker processes per run (0: one per core).
    workers: int = 0
    #: Seconds one recording may take in its worker before it is stopped and reported as
    #: unreadable (a corrupt file can hang the HDF5 library).
    timeout_s: float = DEFAULT_TIMEOUT_S
    _profile: QualityProfile | None = PrivateAttr(default=None)

    @property
    def store(self) -> Store:
        return Store(self.store_root).ensure()

    def profile(self) -> QualityProfile:
        if self._profile is None:
            self._profile = load_quality_profile(self.quality_profile)
        return self._profile

    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else default_workers()

    def catalog(self) -> ProfileCatalog:
        return ProfileCatalog([self.store.robots_dir])

    def registry(self):
        from robots.registry_backends import store_registry

        return store_registry(self.store.registry_path)

    def dataset_fps(self, dataset: str) -> float:
        """The dataset's clock: fixed when its first episode is curated, then kept."""
        fixed = self.store.dataset_clock(dataset)
        return fixed if fixed is not None else float(self.fps or DEFAULT_FPS)

    def fix_dataset_fps(self, dataset: str, fps: float) -> None:
        self.store.fix_dataset_clock(dataset, fps)

    def mapping_for(self, path: str | None) -> dict | None:
        if not path:
            return None
        from pipelines.mapping import load_mapping

        return load_mapping(Path(path))
