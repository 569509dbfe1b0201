"""ScheduledCapacity: min/max restored when the window opens (desired left to the autoscaler), 0/0
when it closes, both read in the given time zone."""

import pytest

from components.scheduled_capacity import ScheduledCapacity, ScheduledCapacityArgs


def test_the_window_opens_with_min_max_and_closes_at_zero(render_component):
    plan = render_component(lambda: ScheduledCapacity("gpu", ScheduledCapacityArgs(
        autoscaling_group_name="eks-gpu-asg", min_size=1, max_size=4, scale_up="0 20 * * MON-FRI",
        scale_down="0 6 * * MON-FRI", time_zone="Europe/Dublin")))
    actions = {a.inputs["scheduledActionName"]: a.inputs for a in plan.of_type("aws:autoscaling/schedule:Schedule")}
    assert {k: (v["recurrence"], v["minSize"], v["maxSize"], v["desiredCapacity"]) for k, v in actions.items()} == {
        "gpu-scale-up": ("0 20 * * MON-FRI", 1, 4, -1), "gpu-scale-down": ("0 6 * * MON-FRI", 0, 0, 0)}
    assert {v["autoscalingGroupName"] for v in actions.values()} == {"eks-gpu-asg"}
    assert {v["timeZone"] for v in actions.values()} == {"Europe/Dublin"}


@pytest.mark.parametrize("change", [{"max_size": 0}, {"min_size": 5}, {"scale_up": "0 20 * *"}])
def test_impossible_windows_are_refused(change):
    args = {"autoscaling_group_name": "asg", "min_size": 1, "max_size": 4, "scale_up": "0 20 * * *",
            "scale_down": "0 6 * * *", **change}
    with pytest.raises(ValueError):
        ScheduledCapacity("gpu", ScheduledCapacityArgs(**args))
