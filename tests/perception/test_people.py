"""People beside the table, partly out of view or partly hidden by the arm, are
placed by the faces the camera really sees."""

from __future__ import annotations

import math

import pytest

from embodied_stack.perception.arm_mask import ArmModel
from embodied_stack.robot import load_robot
from embodied_stack.scene import ObjectKind, Scene
from tests.perception.helpers import detector, render_scene

PEOPLE = {  # x, y, yaw
    "beside_left": (0.35, 0.75, 0.0),
    "beside_right_turned": (0.2, -0.7, 0.4),
    "behind_the_robot": (-0.5, -0.2, 0.0),  # mostly out of view, partly behind the arm
}


@pytest.mark.parametrize("where", sorted(PEOPLE))
def test_person_found_where_they_stand(where: str) -> None:
    x, y, yaw = PEOPLE[where]
    person = {"id": "p", "kind": "human", "xy": [x, y], "yaw": yaw}
    scene = Scene.model_validate({"objects": [person]})
    r = render_scene(scene)
    arm = ArmModel(load_robot("panda"))  # at home, as the simulator starts
    detections = detector().detect(r.rgb, r.depth, exclude=arm.contains)
    people = [d for d in detections if d.kind is ObjectKind.HUMAN]
    assert len(people) == 1 and len(detections) == 1, [d.label() for d in detections]
    assert math.dist(people[0].position, r.truth.objects["p"].position) < 0.02
    assert abs(math.remainder(people[0].yaw - yaw, math.pi)) < math.radians(5)
    assert people[0].occluded  # each runs off the image: partly out of view
