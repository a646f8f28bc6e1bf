"""hardware core (no rclpy)."""
