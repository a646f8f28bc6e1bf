"""`embodied-stack` command line: a thin dispatcher to each area's own CLI.

Sub-commands import their area lazily, so `embodied-stack audit verify` works
without ROS installed.
"""

from __future__ import annotations

import importlib
import sys

# command words -> module with `main(argv: list[str]) -> int`
COMMANDS: dict[tuple[str, ...], str] = {
    ("run",): "embodied_stack.nodes.stack",
    ("demo",): "embodied_stack.nodes.demo",
    ("soak",): "embodied_stack.nodes.soak",
    ("tasks", "run"): "embodied_stack.nodes.task_runner",
    ("redteam", "run"): "embodied_stack.nodes.redteam_runner",
    ("audit",): "embodied_stack.audit.cli",
    ("registry",): "embodied_stack.audit.registry_cli",
    ("bench", "sim"): "embodied_stack.sim.bench",
    ("bench", "ik"): "embodied_stack.control.bench_ik",
    ("bench", "motion"): "embodied_stack.control.bench_motion",
    ("bench", "perception"): "embodied_stack.perception.bench",
    ("bench", "planner"): "embodied_stack.planning.bench",
    ("bench", "audit"): "embodied_stack.audit.bench",
    ("bench", "estop"): "embodied_stack.nodes.bench_estop",
    ("bench", "console"): "embodied_stack.nodes.bench_console",
    ("bench", "stack"): "embodied_stack.nodes.bench_stack",
}

USAGE = """usage: embodied-stack COMMAND ...

commands:
  demo                      the whole stack in the simulator doing a task (headless)
  run [--processes] [--realtime | --max-rtf R] [--record FILE.mcap]
                            start the stack's nodes from config/stack.yaml
  tasks run FILE --json OUT run a task suite headless through the whole stack
  redteam run FILE --json OUT
                            run a red-team suite
  audit verify [PATH] | audit show [...]
                            check or read the tamper-evident audit log
  registry add-operator NAME --role ROLE
                            add an operator (prompts for a password)
  soak --minutes N          tasks in a loop, reporting leaks and false trips
  bench {sim,ik,motion,perception,planner,audit,estop,console,stack} --json OUT
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    for words in sorted(COMMANDS, key=len, reverse=True):
        if tuple(args[: len(words)]) == words:
            module = importlib.import_module(COMMANDS[words])
            code: int = module.main(args[len(words) :])
            return code
    print(f"embodied-stack: unknown command {' '.join(args[:2])!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
