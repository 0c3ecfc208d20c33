"""A new worker's first recording costs about a second more than the others: numba loads each
compiled check kernel from its cache on first call, and the first read opens the HDF5 and video
libraries. A long-lived process that will judge recordings (a distributed-executor worker)
pays that once, as it starts, instead of in its first step: :func:`warm_checks` runs the whole
episode-check catalogue on a short synthetic episode.
"""

from __future__ import annotations


def warm_checks(_: object = None) -> int:
    """Run every episode check once on a one-second synthetic episode (joints, IMU, one stored
    camera); returns how many findings it had (what they say does not matter)."""
    from checks.registry import run_episode_checks
    from pipelines.synthetic import CameraPlan, EpisodePlan, generate_episode
    from robots.profile import get_profile
    from schemas.quality_profile import load_quality_profile

    robot = get_profile("unitree-h1")
    assert robot is not None  # a built-in profile
    episode = generate_episode(robot, EpisodePlan(
        duration_s=1.0, seed=0, cameras=(CameraPlan("cam_head", "rgb8"),)))
    return len(run_episode_checks(episode, robot, load_quality_profile("default")))


def loaded_kernels(_: object = None) -> list[str]:
    """The check kernels this process has loaded (called once, compiled or read from numba's
    cache): what a warm-up is for, and how a test sees it."""
    import sys

    from numba.core.registry import CPUDispatcher

    return sorted(f"{name}.{attr}" for name, mod in list(sys.modules.items())
                  if name.startswith("checks.kernels.")
                  for attr, obj in vars(mod).items()
                  if isinstance(obj, CPUDispatcher) and obj.signatures)
