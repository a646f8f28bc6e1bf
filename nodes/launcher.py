"""Start the stack's nodes without `ros2 launch`: in this process on one
MultiThreadedExecutor, or one supervised process per node.

Used by `embodied-stack run`, the task and red-team runners, the demo and the
benchmarks. Launch files (launch/*.launch.py) start the same nodes on robots.
"""

from __future__ import annotations

import ctypes
import importlib
import inspect
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rclpy
import yaml
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from embodied_stack.config import config_path, namespace_agnostic_params
from embodied_stack.supervisor import RestartPolicy, Supervisor, node_argv

# Start order matters little (everything waits for its inputs), but the kill
# switch and the audit log come first so the first motion has both.
ALL_NODES: tuple[str, ...] = (
    "killswitch_node",
    "audit_node",
    "sim_node",
    "perception_node",
    "planner_node",
    "motion_node",
    "console_node",
)
SIM_STACK: tuple[str, ...] = tuple(n for n in ALL_NODES if n != "console_node")
# The safety device never shares an interpreter with the workload: a busy
# process must not be able to silence the heartbeat. It runs in its own
# process even when the rest of the stack shares one.
ISOLATED_NODES: frozenset[str] = frozenset({"killswitch_node"})


@dataclass
class NodeSpec:
    """How to start one node: its name, and the parameters that override the params file."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def ros_args(self, params_file: Path, namespace: str) -> list[str]:
        """Arguments of the node's process. The overrides go in a params file of their
        own beside `params_file`, as a `/**/<node>` section, read last: it wins over the
        node's section of `params_file` under any namespace (a `-p node:key:=value` rule
        reaches a node at the root namespace only)."""
        args = ["--ros-args", "--params-file", str(params_file), *clock_remap(namespace)]
        if namespace:
            args += ["-r", f"__ns:={namespace}"]
        if self.overrides:
            args += ["--params-file", str(self.write_overrides(params_file.parent))]
        return args

    def write_overrides(self, directory: Path) -> Path:
        """The overrides as a ROS params file in `directory`."""
        path = Path(directory) / f"{self.name}.overrides.yaml"
        params = {k: _plain(v) for k, v in self.overrides.items()}
        path.write_text(yaml.safe_dump({f"/**/{self.name}": {"ros__parameters": params}}))
        return path


def clock_remap(namespace: str) -> list[str]:
    """ROS arguments that make a namespaced node follow `<namespace>/clock`: sim_node
    publishes the relative `clock`, rclpy's time source listens on the absolute `/clock`
    (launch/stack.launch.py remaps it the same way)."""
    return ["-r", "/clock:=clock"] if namespace else []


def node_class(name: str) -> type[Node]:
    """The Node subclass defined in `embodied_stack.nodes.<name>`."""
    module = importlib.import_module(f"embodied_stack.nodes.{name}")
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if issubclass(obj, Node) and obj is not Node and obj.__module__ == module.__name__:
            return obj
    raise LookupError(f"embodied_stack.nodes.{name} defines no rclpy Node class")


def default_params_file() -> Path:
    return config_path("stack.yaml")


# glibc's mallopt parameter: the most malloc arenas the process may create.
_M_ARENA_MAX = -8
# A one-process stack runs ~30 threads (executor, physics, heartbeats, DDS); glibc gives
# each allocating thread an arena of its own (up to 8 per core), and each arena keeps
# freed blocks. Measured on the task suite: 2 arenas hold ~60 MB less per stack started
# in the process, with nothing slower (the interpreter lock serialises most allocations).
_ARENA_MAX = 2


def _libc() -> Any:
    """glibc's malloc controls, or None on another C library (nothing to tune there)."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def cap_malloc_arenas() -> None:
    """Fewer malloc arenas for the threads started from now on (see _ARENA_MAX)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, _ARENA_MAX)


def release_freed_memory() -> None:
    """Give the heap a torn-down stack freed back to the system (RSS drops by ~100 MB),
    so a process running stacks one after another holds only what is live."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


class InProcessStack:
    """The nodes in this process, on one MultiThreadedExecutor in a thread; the
    isolated ones (the kill switch) in supervised processes of their own. `attach`
    spins an extra node (a runner's probe) with them.

    One shared executor, not one per node (as `embodied-stack run --processes` has,
    nodes/spin.py): measured on the demo task, eight executor threads (four of them
    multi-threaded, which busy-wait between taking and running a message) fought
    over the interpreter lock hard enough to delay motion_node's heartbeat by more
    than 250 ms; the shared one ran the task clean."""

    def __init__(
        self,
        specs: Sequence[NodeSpec],
        *,
        params_file: Path | None = None,
        namespace: str = "",
        context: Context | None = None,
        use_sim_time: bool = True,
        isolated: frozenset[str] = ISOLATED_NODES,
        domain_id: int | None = None,
    ) -> None:
        cap_malloc_arenas()  # before the stack's threads exist
        self._params_dir = tempfile.TemporaryDirectory(prefix="embodied-stack-params-")
        self.params_file = namespace_agnostic_params(
            params_file or default_params_file(), self._params_dir.name
        )
        self.namespace = namespace
        self.context = context or Context()
        self._owns_context = context is None
        if self._owns_context:
            rclpy.init(context=self.context, domain_id=domain_id)
        self.executor = MultiThreadedExecutor(num_threads=8, context=self.context)
        self.nodes: dict[str, Node] = {}
        self._use_sim_time = use_sim_time
        self._thread: threading.Thread | None = None
        env = {"ROS_DOMAIN_ID": str(domain_id)} if domain_id is not None else None
        self.processes = Supervisor(env=env)
        for spec in specs:
            if spec.name in isolated:
                self._add_process(spec)
            else:
                self.add(spec)
        self.processes.start_all()

    def _add_process(self, spec: NodeSpec) -> None:
        ros_args = spec.ros_args(self.params_file, self.namespace)
        policy = RestartPolicy(respawn=False)  # a dead kill switch stays dead: the stack holds
        self.processes.add(spec.name, node_argv(spec.name, ros_args), policy)

    def add(self, spec: NodeSpec) -> Node:
        overrides = [Parameter("use_sim_time", value=self._use_sim_time)]
        cls = node_class(spec.name)
        node = cls(
            context=self.context,
            namespace=self.namespace or None,
            cli_args=[
                "--ros-args",
                "--params-file",
                str(self.params_file),
                *clock_remap(self.namespace),
            ],
            parameter_overrides=overrides
            + [Parameter(k, value=_plain(v)) for k, v in spec.overrides.items()],
        )
        self.attach(node)
        self.nodes[spec.name] = node
        return node

    def attach(self, node: Node) -> None:
        """Spin `node` (of this stack's context) with the stack's nodes."""
        self.executor.add_node(node)

    def detach(self, node: Node) -> None:
        """Stop spinning `node`; destroying it stays with the caller."""
        self.executor.remove_node(node)

    def kill(self, name: str) -> None:
        """Stop a node dead: SIGKILL for a node process; for one in this process,
        off the executor and destroyed, no goodbye messages."""
        if name in self.processes.children:
            self.processes.kill(name)
            return
        node = self.nodes.pop(name)
        self.detach(node)
        stop = getattr(node, "stop_dead", None)
        if callable(stop):
            stop()
        node.destroy_node()

    def start(self) -> InProcessStack:
        self._thread = threading.Thread(target=self._spin, name="stack-executor", daemon=True)
        self._thread.start()
        return self

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # shutdown races end the spin; nothing to do then
            if self.context.ok():
                raise

    def stop_spinning(self) -> None:
        """Stop the executor and its thread (the nodes stay). A node destroyed while the
        executor still waits on its handles, or runs one of its callbacks, ends that
        callback with InvalidHandle ("destruction was requested"): attached nodes are
        destroyed after this."""
        self.executor.shutdown(timeout_sec=2.0)
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def shutdown(self) -> None:
        self.stop_spinning()  # first: see there
        for name in list(self.nodes):
            node = self.nodes.pop(name)
            close = getattr(node, "close", None)
            if callable(close):
                close()
            self.detach(node)
            node.destroy_node()
        self.processes.stop_all()
        if self._owns_context:
            rclpy.try_shutdown(context=self.context)
        self._params_dir.cleanup()
        release_freed_memory()

    def __enter__(self) -> InProcessStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def specs_for(
    names: Iterable[str], overrides: dict[str, dict[str, Any]] | None = None
) -> list[NodeSpec]:
    overrides = overrides or {}
    return [NodeSpec(n, dict(overrides.get(n, {}))) for n in names]
