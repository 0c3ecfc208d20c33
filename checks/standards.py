"""What each rule serves: its data-quality characteristic and its data-collection concern.

Every check id of the catalogue and every structural rule of the recording format is traced
here to one quality characteristic of the ISO/IEC 5259-2 family (data quality for analytics and
machine learning, which extends the ISO/IEC 25012 model) and to the concern of the
embodied-intelligence data-collection specification it serves. The table is data, kept next to
the registry: ``docs/standards.md`` and ``embodiq checks`` are generated from it, and a test fails
when a registered check has no entry, so the trace cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Characteristic(StrEnum):
    """Quality characteristics of ISO/IEC 5259-2 that embodiq measures."""

    ACCURACY = "accuracy"
    BALANCE = "balance"
    COMPLETENESS = "completeness"
    CONSISTENCY = "consistency"
    CREDIBILITY = "credibility"
    CURRENTNESS = "currentness"
    EFFECTIVENESS = "effectiveness"
    PRECISION = "precision"
    SIMILARITY = "similarity"
    TIMELINESS = "timeliness"
    TRACEABILITY = "traceability"
    VALIDITY = "validity"


#: One sentence per characteristic: what it means for a robot recording.
CHARACTERISTIC_MEANING: dict[Characteristic, str] = {
    Characteristic.ACCURACY: "values describe the true state of the robot and its scene "
                             "(no spikes, teleports, unusable images)",
    Characteristic.BALANCE: "episodes are spread evenly over tasks, robots, operators and sites",
    Characteristic.COMPLETENESS: "every expected sample, frame, stream and attribute is present",
    Characteristic.CONSISTENCY: "streams agree with each other and with their declarations "
                                "(clocks, sizes, action and state)",
    Characteristic.CREDIBILITY: "labels and filled-in values can be believed, and their origin "
                                "is stated",
    Characteristic.CURRENTNESS: "each sensor kept updating while the robot moved",
    Characteristic.EFFECTIVENESS: "the data carries signal a policy can learn from (motion, "
                                  "moving channels)",
    Characteristic.PRECISION: "sampling and motion are regular enough for the task",
    Characteristic.SIMILARITY: "no episode is a copy of another",
    Characteristic.TIMELINESS: "samples arrive at the rate the recording declares",
    Characteristic.TRACEABILITY: "every episode traces to one physical robot by its unique code",
    Characteristic.VALIDITY: "the recording follows the format and stays within the robot's "
                             "physical limits",
}


class Concern(StrEnum):
    """Concerns of the embodied-intelligence data-collection specification (by its scope)."""

    FORMAT = "data format and integrity"
    METADATA = "metadata completeness"
    SENSORS = "sensor calibration and rate"
    SYNC = "time synchronisation"
    IDENTIFICATION = "robot identification"
    ANNOTATION = "annotation"
    CONTENT = "demonstration content"
    COVERAGE = "dataset coverage"


@dataclass(frozen=True)
class Trace:
    characteristic: Characteristic
    concern: Concern
    #: What the rule measures, in a few words (the docs' third column).
    measures: str


_C, _K = Characteristic, Concern

#: Every structural rule of the recording format (``schema.*``) and every registered check.
TRACES: dict[str, Trace] = {
    # structural rules of the recording format
    "schema.unreadable": Trace(_C.VALIDITY, _K.FORMAT, "the file opens and decodes"),
    "schema.format": Trace(_C.VALIDITY, _K.FORMAT, "format name and supported version"),
    "schema.metadata": Trace(_C.COMPLETENESS, _K.METADATA,
                             "required root attributes present and well-formed"),
    "schema.stream": Trace(_C.COMPLETENESS, _K.CONTENT,
                           "required streams present, each well-formed"),
    "schema.camera": Trace(_C.VALIDITY, _K.SENSORS, "camera declarations and sidecars"),
    "schema.robot": Trace(_C.VALIDITY, _K.IDENTIFICATION,
                          "robot model known, joints named as in its profile"),
    "schema.uid": Trace(_C.TRACEABILITY, _K.IDENTIFICATION,
                        "robot unique code valid and agreeing with the registry"),
    "schema.unsafe": Trace(_C.VALIDITY, _K.FORMAT,
                           "self-contained file, declared sizes within limits"),
    "schema.inferred": Trace(_C.CREDIBILITY, _K.METADATA,
                             "values filled from a mapping or default, stated"),
    # timing
    "time.non_monotonic": Trace(_C.CONSISTENCY, _K.SYNC, "timestamps strictly increasing"),
    "time.gap": Trace(_C.COMPLETENESS, _K.SENSORS, "samples missing in gaps"),
    "time.rate": Trace(_C.TIMELINESS, _K.SENSORS, "effective rate against declared rate"),
    "time.jitter": Trace(_C.PRECISION, _K.SENSORS, "spread of sampling intervals"),
    "time.sync": Trace(_C.CONSISTENCY, _K.SYNC, "start and end of every stream and camera"),
    # values
    "value.nonfinite": Trace(_C.COMPLETENESS, _K.SENSORS, "NaN and infinite samples"),
    "value.joint_limit": Trace(_C.VALIDITY, _K.SENSORS, "joint positions within limits"),
    "value.velocity_limit": Trace(_C.ACCURACY, _K.SENSORS, "joint speeds within limits"),
    "value.effort_limit": Trace(_C.VALIDITY, _K.SENSORS, "joint efforts within limits"),
    "value.stale": Trace(_C.CURRENTNESS, _K.SENSORS,
                         "a sensor repeating itself while the robot is commanded"),
    "value.spike": Trace(_C.ACCURACY, _K.SENSORS, "isolated samples off their rolling median"),
    # motion and action
    "motion.static": Trace(_C.EFFECTIVENESS, _K.CONTENT, "a joint stream that never moves"),
    "motion.idle": Trace(_C.EFFECTIVENESS, _K.CONTENT, "still spans at start and end"),
    "motion.jerk": Trace(_C.PRECISION, _K.CONTENT, "smoothness of the trajectories"),
    "action.saturation": Trace(_C.VALIDITY, _K.CONTENT, "action channels pinned at an extreme"),
    "action.tracking": Trace(_C.CONSISTENCY, _K.SYNC, "state following the action, and its lag"),
    # video
    "video.unreadable": Trace(_C.VALIDITY, _K.SENSORS, "video opens and decodes"),
    "video.frame_count": Trace(_C.COMPLETENESS, _K.SENSORS, "decoded frames against timestamps"),
    "video.resolution": Trace(_C.CONSISTENCY, _K.SENSORS, "decoded size against declaration"),
    "video.frozen": Trace(_C.CURRENTNESS, _K.SENSORS, "identical frames while the robot moves"),
    "video.dark": Trace(_C.ACCURACY, _K.SENSORS, "share of very dark frames"),
    "video.overexposed": Trace(_C.ACCURACY, _K.SENSORS, "share of overexposed frames"),
    "video.blur": Trace(_C.ACCURACY, _K.SENSORS, "share of blurred frames"),
    # episode
    "episode.duration": Trace(_C.VALIDITY, _K.CONTENT, "plausible episode length"),
    "episode.success": Trace(_C.CREDIBILITY, _K.ANNOTATION, "success label present and true"),
    # dataset
    "dataset.duplicate": Trace(_C.SIMILARITY, _K.COVERAGE, "episodes with identical content"),
    "dataset.uid_conflict": Trace(_C.TRACEABILITY, _K.IDENTIFICATION,
                                  "one code for one robot, one robot for one code"),
    "dataset.length_outlier": Trace(_C.CONSISTENCY, _K.COVERAGE,
                                    "durations far from their task's"),
    "dataset.stuck_channel": Trace(_C.EFFECTIVENESS, _K.SENSORS,
                                   "channels that do not move in most episodes"),
    "dataset.end_pose_outlier": Trace(_C.CREDIBILITY, _K.ANNOTATION,
                                      "final poses far from their task's (likely failures)"),
    "dataset.drift": Trace(_C.CONSISTENCY, _K.COVERAGE, "channel means shifting over time"),
    "dataset.balance": Trace(_C.BALANCE, _K.COVERAGE,
                             "counts per task, robot, operator and site"),
}

#: The structural rule ids the recording reader and the adapters emit.
STRUCTURAL_IDS: tuple[str, ...] = tuple(k for k in TRACES if k.startswith("schema."))


def trace_of(check_id: str) -> Trace | None:
    """The trace of ``check_id``, or None for an id the table does not know."""
    return TRACES.get(check_id)


def characteristic_of(check_id: str) -> str | None:
    t = TRACES.get(check_id)
    return t.characteristic.value if t else None
