# Copyright 2026 embodied_stack developers. Apache-2.0.
"""The whole stack against the PyBullet simulator, with the operator console.

    ros2 launch embodied_stack sim.launch.py
    ros2 launch embodied_stack sim.launch.py namespace:=robot1 console:=false

sim_node plays arm, gripper and RGB-D camera and publishes `<namespace>/clock`;
every node follows that clock. Keep DDS on this machine for simulation:
`export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST` (docs/deployment.md).
"""

from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description import LaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

PACKAGE = "embodied_stack"


def generate_launch_description() -> LaunchDescription:
    declared_arguments = [
        DeclareLaunchArgument(
            "namespace",
            default_value="",
            description="ROS namespace of this robot's stack and simulator, e.g. robot1.",
        ),
        DeclareLaunchArgument(
            "robot",
            default_value="panda",
            description="Robot profile to simulate: config/robots/<robot>.yaml (panda, ur5e).",
        ),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "stack.yaml"]),
            description="ROS params file of every node (one section per node, plus /**).",
        ),
        DeclareLaunchArgument(
            "overlay_params_file",
            default_value="",
            description="Params file laid over params_file, key by key (this robot's "
            "registry, audit log_dir, console port); empty: none.",
        ),
        DeclareLaunchArgument(
            "use_sim_time",
            default_value="true",
            description="Follow the simulator's clock (false: wall clock).",
        ),
        DeclareLaunchArgument(
            "console",
            default_value="true",
            description="Start the operator web console (console_node).",
        ),
        DeclareLaunchArgument(
            "log_level", default_value="info", description="Log level of every node."
        ),
    ]

    stack = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare(PACKAGE), "launch", "stack.launch.py"])
        ),
        launch_arguments={
            "namespace": LaunchConfiguration("namespace"),
            "robot": LaunchConfiguration("robot"),
            "params_file": LaunchConfiguration("params_file"),
            "overlay_params_file": LaunchConfiguration("overlay_params_file"),
            "use_sim_time": LaunchConfiguration("use_sim_time"),
            "console": LaunchConfiguration("console"),
            "log_level": LaunchConfiguration("log_level"),
            "stack": "true",
            "sim": "true",
            "driver_bridge": "false",
            # the simulator publishes these under the namespace
            "color_topic": "camera/color/image_raw",
            "depth_topic": "camera/depth/image_raw",
            "camera_info_topic": "camera/color/camera_info",
            "joint_states_topic": "joint_states",
            "clock_topic": "clock",
        }.items(),
    )

    return LaunchDescription([*declared_arguments, stack])
