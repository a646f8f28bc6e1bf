"""safety core (no rclpy)."""
