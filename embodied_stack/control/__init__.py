"""control core (no rclpy)."""
