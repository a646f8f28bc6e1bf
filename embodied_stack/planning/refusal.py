"""Refusal: why a plan cannot be made, as a value a person can read."""

from __future__ import annotations

from embodied_stack.errors import StackError


class Refusal(StackError):  # noqa: N818 (a value, not a failure)
    """The planner declines: `rule` names the check, `detail` says what matched."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule
        self.detail = detail

    @property
    def reason(self) -> str:
        return f"{self.rule}: {self.detail}"
