# Copyright 2026 embodied_stack developers. Apache-2.0.
"""The stack on a real arm and a real RGB-D camera (no simulator).

Bring up the arm's driver (ros2_control, e.g. ur_robot_driver or franka_ros2) and
the camera driver first, then:

    ros2 launch embodied_stack robot.launch.py robot:=ur5e
    ros2 launch embodied_stack robot.launch.py robot:=panda \\
        controller_topic:=/fr3_arm_controller/joint_trajectory

motion_node sends JointTrajectory to driver_bridge_node, the actuator-side guard,
which forwards it to the controller (`controller_topic`, default: the profile's)
and holds the arm on e-stop or a stale kill-switch heartbeat. Perception reads
the camera's topics (RealSense names by default). See docs/deployment.md.
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
            description="ROS namespace of this robot's stack, e.g. robot1 (empty: none).",
        ),
        # no default: a real arm must be named, never assumed
        DeclareLaunchArgument(
            "robot",
            description="Robot profile of the arm: config/robots/<robot>.yaml (ur5e, panda).",
        ),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "stack.yaml"]),
            description="ROS params file of every node; copy and edit it per cell "
            "(camera pose, e-stop serial port, registry).",
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
            description="Follow clock_topic instead of the wall clock (true only with a "
            "simulated arm such as Gazebo).",
        ),
        DeclareLaunchArgument(
            "console",
            default_value="true",
            description="Start the operator web console (console_node).",
        ),
        DeclareLaunchArgument(
            "color_topic",
            default_value="/camera/camera/color/image_raw",
            description="RGB image of the camera (realsense2_camera's name by default).",
        ),
        DeclareLaunchArgument(
            "depth_topic",
            default_value="/camera/camera/aligned_depth_to_color/image_raw",
            description="Depth image aligned to the color image (16UC1 mm or 32FC1 m); "
            "start realsense2_camera with align_depth.enable:=true.",
        ),
        DeclareLaunchArgument(
            "camera_info_topic",
            default_value="/camera/camera/color/camera_info",
            description="CameraInfo of the color image (intrinsics).",
        ),
        DeclareLaunchArgument(
            "joint_states_topic",
            default_value="/joint_states",
            description="JointState of the arm, from the driver's joint_state_broadcaster.",
        ),
        DeclareLaunchArgument(
            "controller_topic",
            default_value="",
            description="JointTrajectory topic of the real trajectory controller "
            "(empty: the profile's controller.trajectory_topic).",
        ),
        DeclareLaunchArgument(
            "stop_service",
            default_value="",
            description="The driver's std_srvs/Trigger stop service, called on hold "
            "(empty: the profile's controller.stop_service).",
        ),
        DeclareLaunchArgument(
            "clock_topic",
            default_value="/clock",
            description="Clock followed when use_sim_time is true.",
        ),
        DeclareLaunchArgument(
            "log_level", default_value="info", description="Log level of every node."
        ),
    ]

    forwarded = [
        "namespace",
        "robot",
        "params_file",
        "overlay_params_file",
        "use_sim_time",
        "console",
        "color_topic",
        "depth_topic",
        "camera_info_topic",
        "joint_states_topic",
        "controller_topic",
        "stop_service",
        "clock_topic",
        "log_level",
    ]
    stack = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare(PACKAGE), "launch", "stack.launch.py"])
        ),
        launch_arguments=[
            *((name, LaunchConfiguration(name)) for name in forwarded),
            ("stack", "true"),
            ("sim", "false"),
            ("driver_bridge", "true"),
        ],
    )

    return LaunchDescription([*declared_arguments, stack])
