"""`embodied-stack demo`: the whole stack, headless, in the simulator, on the
built-in offline planner, doing a real task from the default scene and
printing what happens."""

from __future__ import annotations

import argparse
import time

from embodied_stack.config import config_path
from embodied_stack.nodes.harness import SessionConfig, StackSession
from embodied_stack.nodes.task_runner import settle, wait_for_outcome
from embodied_stack.scene import load_scene
from embodied_stack.schemas import MotionStatus, Plan

DEFAULT_INSTRUCTION = "put the red cube in the tray"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-stack demo", description=__doc__)
    parser.add_argument("--scene", default="scenes/default.yaml", help="scene file")
    parser.add_argument("--instruction", default=DEFAULT_INSTRUCTION)
    parser.add_argument("--check", default="red_cube:tray", help="OBJECT:CONTAINER to verify")
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

        def report() -> None:
            nonlocal seen_motion
            plan = probe.latest_plan()
            if plan is not None and (plan.plan_id, plan.status.value) not in printed:
                printed.add((plan.plan_id, plan.status.value))
                print(describe_plan(plan))
            history = probe.motion_history
            for status in history[seen_motion:]:
                print(describe_motion(status))
            seen_motion = len(history)

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
        ok = kind == "done" and _check(args.check, scene, initial, final)
        audit_ok = _verify_audit(session)
    return 0 if ok and audit_ok else 1


def _check(spec: str, scene: object, initial: object, final: object) -> bool:
    from embodied_stack.robot import load_robot
    from embodied_stack.sim.predicates import evaluate

    obj, container = spec.split(":", 1)
    res = evaluate(
        {"in": [obj, container]},
        now=final,
        initial=initial,
        scene=scene,  # type: ignore[arg-type]
        robot=load_robot(),
    )
    print(f"check in({obj}, {container}) on ground truth: {res.passed} ({res.detail})")
    return bool(res.passed)


def _verify_audit(session: StackSession) -> bool:
    from embodied_stack.audit.log import verify

    report = verify(session.audit_dir)
    print(f"audit log {session.audit_dir}: {report}")
    return bool(getattr(report, "ok", False))
