"""planning core (no rclpy)."""
