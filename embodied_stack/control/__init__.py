"""Motion control core (no rclpy), working from a RobotProfile.

- kinematics.Chain: URDF chain base -> TCP; FK of every link, TCP pose, Jacobian.
- ik.IkSolver: damped least squares inside the limits, seeded (no flips), honest IkResult.
- trajectory.TrajectoryPlanner: joint moves and straight TCP lines under MotionLimits
  (joint velocity/acceleration, TCP speed from the red lines), as JointTrajectoryCommand.
- skills.expand_step / validate_plan: DESIGN.md §6 skills into segments on a WorldModel.
- executor.PlanExecutor: tick(now, joints, objects) -> commands; status(); abort(reason).
- jog.JogController: hold-to-move jogging with a deadman.

- bench_ik, bench_motion: `embodied-stack bench ik|motion --json OUT`.
"""
