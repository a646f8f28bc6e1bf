"""audit core (no rclpy)."""
