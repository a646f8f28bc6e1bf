"""console core (no rclpy)."""
