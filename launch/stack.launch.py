# Copyright 2026 embodied_stack developers. Apache-2.0.
"""Every node of embodied_stack, each behind a switch. sim.launch.py, robot.launch.py
and console.launch.py are presets of this file; use them rather than this one.

    ros2 launch embodied_stack stack.launch.py robot:=panda sim:=true use_sim_time:=true

One robot's stack runs under `namespace`; the params file's node sections apply
under any namespace (see NamespacedParams), and `/fleet/estop` stays global.
"""

from tempfile import NamedTemporaryFile

import yaml
from launch.actions import DeclareLaunchArgument, GroupAction
from launch.conditions import IfCondition
from launch.launch_context import LaunchContext
from launch.launch_description import LaunchDescription
from launch.substitution import Substitution
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch.utilities import normalize_to_list_of_substitutions, perform_substitutions
from launch_ros.actions import Node
from launch_ros.descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "embodied_stack"


class NamespacedParams(Substitution):
    """The params file (and an optional overlay laid over it) as one file whose
    `<node>:` sections read `/**/<node>:`.

    rcl matches a plain `motion_node:` key only to the node `/motion_node`; under a
    namespace (`/robot1/motion_node`) the section would be silently ignored. The
    wildcard form applies in every namespace; `/**` and absolute keys stay as they are.
    The overlay (same layout; empty: none) wins key by key, so a robot of a fleet
    changes only what differs: its registry, audit log_dir, console port.
    """

    def __init__(self, source: Substitution | str, overlay: Substitution | str = "") -> None:
        super().__init__()
        self._source = normalize_to_list_of_substitutions(source)
        self._overlay = normalize_to_list_of_substitutions(overlay)

    def describe(self) -> str:
        return "NamespacedParams(params_file, overlay_params_file)"

    def perform(self, context: LaunchContext) -> str:
        sections = _read_params(perform_substitutions(context, self._source))
        overlay = perform_substitutions(context, self._overlay)
        if overlay:
            sections = _merged(sections, _read_params(overlay))
        rewritten = {
            (key if str(key).startswith("/") else f"/**/{key}"): value
            for key, value in sections.items()
        }
        with NamedTemporaryFile(
            "w", prefix="embodied_stack_params_", suffix=".yaml", delete=False
        ) as out:
            yaml.safe_dump(rewritten, out, default_flow_style=False)
        return out.name


def _read_params(path: str) -> dict:
    with open(path, encoding="utf-8") as src:
        return yaml.safe_load(src) or {}


def _merged(base: dict, overlay: dict) -> dict:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


ARGUMENTS = [
    # (name, default, description)
    ("namespace", "", "ROS namespace of this robot's stack, e.g. robot1 (empty: none)."),
    ("robot", "panda", "Robot profile config/robots/<robot>.yaml or a path (wins over params)."),
    (
        "params_file",
        PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "stack.yaml"]),
        "ROS params file of every node (one section per node, plus /**).",
    ),
    (
        "overlay_params_file",
        "",
        "Params file laid over params_file, key by key (e.g. one robot's registry, audit "
        "log_dir, console port); empty: none.",
    ),
    ("use_sim_time", "false", "Follow the clock topic instead of the wall clock."),
    ("stack", "true", "Start the core nodes (kill switch, audit, perception, planner, motion)."),
    ("sim", "false", "Start sim_node, the PyBullet simulator standing in for arm and camera."),
    ("driver_bridge", "false", "Start driver_bridge_node in front of a real arm's controller."),
    ("console", "true", "Start console_node, the operator web console."),
    ("color_topic", "camera/color/image_raw", "RGB image topic perception reads."),
    ("depth_topic", "camera/depth/image_raw", "Depth image aligned to color (32FC1 m, 16UC1 mm)."),
    ("camera_info_topic", "camera/color/camera_info", "CameraInfo of the color image."),
    ("joint_states_topic", "joint_states", "sensor_msgs/JointState of the arm."),
    ("clock_topic", "clock", "Clock followed with use_sim_time (sim_node publishes <ns>/clock)."),
    ("controller_topic", "", "Real controller's JointTrajectory topic (empty: from the profile)."),
    ("stop_service", "", "Driver's std_srvs/Trigger stop service (empty: from the profile)."),
    ("log_level", "info", "Log level of every node (debug, info, warn, error)."),
]


def generate_launch_description() -> LaunchDescription:
    declared_arguments = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, default, description in ARGUMENTS
    ]

    namespace = LaunchConfiguration("namespace")
    common_parameters = [
        NamespacedParams(
            LaunchConfiguration("params_file"), LaunchConfiguration("overlay_params_file")
        ),
        {
            "robot": ParameterValue(LaunchConfiguration("robot"), value_type=str),
            "use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool),
        },
    ]
    # Names each node uses, pointed at this deployment's topics (the nodes only
    # know relative names, so one table serves simulation and real robots).
    remappings = [
        ("camera/color/image_raw", LaunchConfiguration("color_topic")),
        ("camera/depth/image_raw", LaunchConfiguration("depth_topic")),
        ("camera/color/camera_info", LaunchConfiguration("camera_info_topic")),
        ("joint_states", LaunchConfiguration("joint_states_topic")),
        ("/clock", LaunchConfiguration("clock_topic")),
    ]
    ros_arguments = ["--log-level", LaunchConfiguration("log_level")]

    killswitch_node = Node(
        package=PACKAGE,
        executable="killswitch_node",
        name="killswitch_node",
        namespace=namespace,
        parameters=common_parameters,
        remappings=remappings,
        ros_arguments=ros_arguments,
        output="screen",
    )
    audit_node = Node(
        package=PACKAGE,
        executable="audit_node",
        name="audit_node",
        namespace=namespace,
        parameters=common_parameters,
        remappings=remappings,
        ros_arguments=ros_arguments,
        output="screen",
    )
    perception_node = Node(
        package=PACKAGE,
        executable="perception_node",
        name="perception_node",
        namespace=namespace,
        parameters=common_parameters,
        remappings=remappings,
        ros_arguments=ros_arguments,
        output="screen",
    )
    planner_node = Node(
        package=PACKAGE,
        executable="planner_node",
        name="planner_node",
        namespace=namespace,
        parameters=common_parameters,
        remappings=remappings,
        ros_arguments=ros_arguments,
        output="screen",
    )
    motion_node = Node(
        package=PACKAGE,
        executable="motion_node",
        name="motion_node",
        namespace=namespace,
        parameters=common_parameters,
        remappings=remappings,
        ros_arguments=ros_arguments,
        output="screen",
    )
    core_nodes = GroupAction(
        [killswitch_node, audit_node, perception_node, planner_node, motion_node],
        condition=IfCondition(LaunchConfiguration("stack")),
    )

    sim_node = Node(
        package=PACKAGE,
        executable="sim_node",
        name="sim_node",
        namespace=namespace,
        parameters=common_parameters,
        remappings=remappings,
        ros_arguments=ros_arguments,
        output="screen",
        condition=IfCondition(LaunchConfiguration("sim")),
    )
    driver_bridge_node = Node(
        package=PACKAGE,
        executable="driver_bridge_node",
        name="driver_bridge_node",
        namespace=namespace,
        parameters=[
            *common_parameters,
            {
                # value_type=str keeps an empty value a string (yaml would make it null)
                "controller_topic": ParameterValue(
                    LaunchConfiguration("controller_topic"), value_type=str
                ),
                "stop_service": ParameterValue(LaunchConfiguration("stop_service"), value_type=str),
            },
        ],
        remappings=remappings,
        ros_arguments=ros_arguments,
        output="screen",
        condition=IfCondition(LaunchConfiguration("driver_bridge")),
    )
    console_node = Node(
        package=PACKAGE,
        executable="console_node",
        name="console_node",
        namespace=namespace,
        parameters=common_parameters,
        remappings=remappings,
        ros_arguments=ros_arguments,
        output="screen",
        condition=IfCondition(LaunchConfiguration("console")),
    )

    return LaunchDescription(
        [*declared_arguments, core_nodes, sim_node, driver_bridge_node, console_node]
    )
