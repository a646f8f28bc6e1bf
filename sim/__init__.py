"""PyBullet simulator (installed as embodied_stack.sim; no rclpy).

- world.SimWorld: scene, robot, stepping, trajectory following, gripper, camera,
  ground truth (each world has its own PyBullet client).
- predicates.evaluate: the task format's success predicates on ground truth.
- breach_monitor.BreachMonitor: the red-team judge's red lines, every physics step.
- render_worker.RenderWorker: camera frames from a mirror world in another process.
- bench.main: `embodied-stack bench sim`.
"""
