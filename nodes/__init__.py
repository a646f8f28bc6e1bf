"""Thin rclpy nodes (installed as embodied_stack.nodes): wiring only."""
