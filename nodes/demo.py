"""`embodied-stack demo`: the whole stack, headless, in the simulator, on the
built-in offline planner, doing a real task from the default scene and
printing what happens.

The result is judged on the simulator's ground truth: each object the plan picks
and places must be in (or on) its target (`--check OBJECT:TARGET`, scene ids, to
name the placement yourself), then the audit log of the run must verify."""

from __future__ import annotations

import argparse
import math
import time

from embodied_stack.config import config_path
from embodied_stack.nodes.harness import SessionConfig, StackSession
from embodied_stack.nodes.task_runner import settle, wait_for_outcome
from embodied_stack.scene import CONTAINERS, Scene, load_scene
from embodied_stack.schemas import (
    GroundTruth,
    MotionStatus,
    PerceivedObject,
    Plan,
    SkillName,
)

DEFAULT_INSTRUCTION = "put the red cube in the tray"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-stack demo", description=__doc__)
    parser.add_argument("--scene", default="scenes/default.yaml", help="scene file")
    parser.add_argument("--instruction", default=DEFAULT_INSTRUCTION)
    parser.add_argument(
        "--check",
        help="OBJECT:TARGET (scene ids) to verify on ground truth; default: what the plan places",
    )
    return parser


def describe_plan(plan: Plan) -> str:
    label = "AI-generated" if plan.ai_generated else "operator"
    prov = plan.provenance
    lines = [
        f"plan {plan.plan_id} [{label}; planner {prov.planner.value}, model {prov.model}]"
        f" risk tier {int(plan.risk_tier)} -> {plan.status.value}",
    ]
    lines += [f"  {i + 1}. {s.skill.value} {s.args}" for i, s in enumerate(plan.steps)]
    if plan.reason:
        lines.append(f"  reason: {plan.reason}")
    return "\n".join(lines)


def describe_motion(status: MotionStatus) -> str:
    step = "" if status.step_index is None else f" step {status.step_index + 1}/{status.step_count}"
    skill = f" ({status.skill.value})" if status.skill else ""
    error = f": {status.error}" if status.error else ""
    return f"motion {status.state.value}{step}{skill}{error}"


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    scene = load_scene(config_path(args.scene))
    started = time.monotonic()
    print(f"embodied_stack demo: scene {args.scene}, instruction {args.instruction!r}")
    with StackSession(SessionConfig(scene=scene)) as session:
        probe = session.probe
        assert probe is not None
        error = session.wait_ready()
        if error:
            print(f"demo: {error}")
            return 1
        assert probe.objects is not None
        print(f"perception sees {len(probe.objects.objects)} objects:")
        for obj in probe.objects.objects:
            x, y, z = obj.position
            print(
                f"  {obj.id}: {obj.color.value if obj.color else ''} {obj.kind.value}"
                f" at ({x:.3f}, {y:.3f}, {z:.3f}) on {obj.support}"
            )
        initial = settle(session, 0.2)
        start_sim = probe.sim_time
        printed: set[tuple[str, str]] = set()
        seen_motion = 0
        last_line = ""

        def report() -> None:
            nonlocal seen_motion, last_line
            plan = probe.latest_plan()
            if plan is not None and (plan.plan_id, plan.status.value) not in printed:
                printed.add((plan.plan_id, plan.status.value))
                print(describe_plan(plan))
            history = probe.motion_history
            for status in history[seen_motion:]:
                line = describe_motion(status)
                if line != last_line:  # statuses differ in their stamps only: said once
                    print(line)
                    last_line = line
            seen_motion = len(history)

        seen = {o.id: o for o in probe.objects.objects}
        probe.instruct(args.instruction, operator="demo")
        outcome: list[tuple[str, str]] = []

        def done() -> bool:
            report()
            return bool(outcome)

        import threading

        waiter = threading.Thread(
            target=lambda: outcome.append(wait_for_outcome(session, start_sim)[:2])
        )
        waiter.start()
        session.wait_until(done, wall_timeout_s=600.0, poll_s=0.05)
        waiter.join()
        report()
        final = settle(session)
        kind, reason = outcome[-1]
        print(
            f"result: {kind} ({reason}); {probe.sim_time - start_sim:.1f} s sim,"
            f" {time.monotonic() - started:.1f} s wall"
        )
        latest = {o.id: o for o in (probe.objects.objects if probe.objects else [])}
        checks = _checks(args.check, probe.latest_plan(), latest | seen, initial)
        ok = kind == "done" and _judge(checks, scene, initial, final)
        audit_ok = _verify_audit(session)
    return 0 if ok and audit_ok else 1


def placements(plan: Plan) -> list[tuple[str, str]]:
    """(object, target) of each `pick` followed by a `place`, in the plan's (perceived) ids."""
    held: str | None = None
    found: list[tuple[str, str]] = []
    for step in plan.steps:
        if step.skill is SkillName.PICK:
            held = str(step.args["object"])
        elif step.skill is SkillName.PLACE and held is not None:
            found.append((held, str(step.args["target"])))
            held = None
        elif step.skill is SkillName.PLACE_AT:
            held = None
    return found


def scene_id(perceived: PerceivedObject, initial: GroundTruth) -> str:
    """The scene object a perceived one is (nearest centre at the start, in the plane)."""
    x, y, _z = perceived.position
    return min(
        initial.objects,
        key=lambda i: math.dist((x, y), initial.objects[i].position[:2]),
    )


def _checks(
    spec: str | None,
    plan: Plan | None,
    seen: dict[str, PerceivedObject],
    initial: GroundTruth | None,
) -> list[tuple[str, str]]:
    """`--check OBJECT:TARGET`, or each placement of the plan in scene ids."""
    if spec is not None:
        obj, _, target = spec.partition(":")
        return [(obj, target)]
    if plan is None or initial is None:
        return []
    checks = []
    for a, b in placements(plan):
        if a in seen and b in seen:
            checks.append((scene_id(seen[a], initial), scene_id(seen[b], initial)))
        else:
            print(f"cannot tell which scene objects {a} and {b} are: not checked")
    return checks


def _judge(
    checks: list[tuple[str, str]],
    scene: Scene,
    initial: GroundTruth | None,
    final: GroundTruth | None,
) -> bool:
    from embodied_stack.robot import load_robot
    from embodied_stack.sim.predicates import evaluate

    if initial is None or final is None:
        print("no ground truth from the simulator: nothing can be checked")
        return False
    if not checks:
        print("nothing placed: judged on the motion's outcome alone")
        return True
    ok = True
    for obj, target in checks:
        res = evaluate(
            {"in": [obj, target]}, now=final, initial=initial, scene=scene, robot=load_robot()
        )
        container = target in {o.id for o in scene.objects} and (
            scene.object(target).kind in CONTAINERS
        )
        print(
            f"check {'in' if container else 'on'}({obj}, {target}) on ground truth:"
            f" {res.passed} ({res.detail})"
        )
        ok = ok and res.passed
    return ok


def _verify_audit(session: StackSession) -> bool:
    from embodied_stack.audit.log import verify

    report = verify(session.audit_dir)
    print(f"audit log {session.audit_dir}: {report}")
    return bool(getattr(report, "ok", False))
