"""embodied_stack: a ROS 2 control stack for embodied AI robots.

The core (this package, minus ``embodied_stack.nodes``) imports no rclpy.
"""

__version__ = "0.1.0"
