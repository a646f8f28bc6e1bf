# Copyright 2026 embodied_stack developers. Apache-2.0.
"""The operator web console alone, e.g. on a control-room machine on the robot's
DDS domain, or a second console for another robot of a fleet:

    ros2 launch embodied_stack console.launch.py namespace:=robot2

Open http://<host>:<port>/ (console_node's `host` and `port` parameters) and log in.
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
            description="Namespace of the robot stack this console operates, e.g. robot1.",
        ),
        DeclareLaunchArgument(
            "robot",
            default_value="panda",
            description="Robot profile of that robot: config/robots/<robot>.yaml.",
        ),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "stack.yaml"]),
            description="ROS params file (console_node section: host, port, session_ttl_s).",
        ),
        DeclareLaunchArgument(
            "overlay_params_file",
            default_value="",
            description="Params file laid over params_file, key by key (this robot's "
            "registry, audit log_dir, console port); empty: none.",
        ),
        DeclareLaunchArgument(
            "use_sim_time",
            default_value="false",
            description="Follow clock_topic (true when the robot is simulated).",
        ),
        DeclareLaunchArgument(
            "clock_topic",
            default_value="clock",
            description="Clock followed with use_sim_time (a simulator publishes <ns>/clock).",
        ),
        DeclareLaunchArgument(
            "log_level", default_value="info", description="Log level of console_node."
        ),
    ]

    console = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare(PACKAGE), "launch", "stack.launch.py"])
        ),
        launch_arguments=[
            *(
                (name, LaunchConfiguration(name))
                for name in (
                    "namespace",
                    "robot",
                    "params_file",
                    "overlay_params_file",
                    "use_sim_time",
                    "clock_topic",
                    "log_level",
                )
            ),
            ("console", "true"),
            ("stack", "false"),
            ("sim", "false"),
            ("driver_bridge", "false"),
        ],
    )

    return LaunchDescription([*declared_arguments, console])
