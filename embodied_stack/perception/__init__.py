"""Perception core (no rclpy): how the stack sees.

- `detector.Detector(intrinsics, world_from_optical).detect(rgb, depth, exclude=None)`
  -> list of `detection.Detection` (kind, colour, pose, size, support) in the world frame;
  bad frames raise `inputs.PerceptionInputError`. Heights come from the table plane
  fitted in each frame (`table_plane`), noisy depth is filtered, and same-coloured
  objects touching each other are cut apart (`touching`).
- `arm_mask.ArmModel(profile)`: forward kinematics of the robot; `.contains` masks the
  arm out of a frame, `.tcp()` / `.grasping()` tell the tracker what the gripper holds.
- `tracker.ObjectTracker`: detections over time -> `schemas.PerceivedObject` with stable
  ids, stale estimates while hidden, the held object following the TCP.
- `annotate.annotate`: the image with boxes and ids; `bench`: `embodied-stack bench
  perception`; `evaluate`: scoring against simulator ground truth (tests and bench only).
"""
