"""PyBullet simulator (installed as embodied_stack.sim; no rclpy)."""
