"""ament_python package: the core (embodied_stack/), the simulator (sim/) and the
ROS shell (nodes/) installed into one `embodied_stack` namespace."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "embodied_stack"

NODES = [
    "sim_node",
    "perception_node",
    "planner_node",
    "motion_node",
    "killswitch_node",
    "audit_node",
    "console_node",
    "driver_bridge_node",
]

# ROS 2 Python packages. On a robot they come from the ROS 2 install (never
# shadow it); elsewhere `pip install .[ros]` brings the PyPI wheels.
ROS_WHEELS = [
    "ros-rclpy",
    "ros-rcl-interfaces",
    "ros-std-msgs",
    "ros-sensor-msgs",
    "ros-geometry-msgs",
    "ros-trajectory-msgs",
    "ros-std-srvs",
    "ros-diagnostic-msgs",
    "ros-visualization-msgs",
    "ros-rosgraph-msgs",
    "ros-builtin-interfaces",
    "ros-rmw-fastrtps-cpp",
]

core_packages = [p for p in find_packages(include=[PACKAGE, f"{PACKAGE}.*"])]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[*core_packages, f"{PACKAGE}.sim", f"{PACKAGE}.nodes"],
    package_dir={f"{PACKAGE}.sim": "sim", f"{PACKAGE}.nodes": "nodes"},
    package_data={PACKAGE: ["py.typed", "console/static/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (
            f"share/{PACKAGE}/config/robots",
            glob("config/robots/*.yaml") + glob("config/robots/*.urdf"),
        ),
        (f"share/{PACKAGE}/config/scenes", glob("config/scenes/*.yaml")),
    ],
    python_requires=">=3.10",
    install_requires=[
        "numpy",
        "opencv-python-headless",
        "pybullet",
        "pydantic>=2",
        "pyyaml",
        "openai>=1",
        "jieba",
        "fastapi",
        "uvicorn[standard]",
        "argon2-cffi",
        "pyserial",
        "mcap",
        "mcap-ros2-support",
    ],
    extras_require={
        "ros": ROS_WHEELS,
        "hardware": ["gpiod", "evdev"],
        "test": [
            "pytest",
            "pytest-timeout",
            "pytest-rerunfailures",
            "hypothesis",
            "playwright",
            "httpx",
            "websockets",
            "ruff",
            "mypy",
            "types-PyYAML",
            "colcon-core",
            "colcon-ros",
        ],
    },
    zip_safe=True,
    maintainer="embodied_stack developers",
    maintainer_email="dev@embodied-stack.invalid",
    description="ROS 2 control stack for embodied AI robots with safety below the planner",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [f"{n} = {PACKAGE}.nodes.{n}:main" for n in NODES]
        + [f"embodied-stack = {PACKAGE}.cli:main"],
    },
)
