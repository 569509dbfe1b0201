"""Scheduled scaling of an Auto Scaling group into a daily (or any cron) window: at `scale_up` the
group gets its minimum and maximum back, at `scale_down` both go to zero.

Two `aws:autoscaling/schedule:Schedule` actions with a Unix cron `recurrence` read in `time_zone`
(an IANA name): Amazon EC2 Auto Scaling User Guide, "Scheduled scaling for Amazon EC2 Auto Scaling"
(PutScheduledUpdateGroupAction: Recurrence, TimeZone). The desired capacity is left alone when the
window opens (-1: unchanged), so a cluster autoscaler that manages the group keeps deciding how many
nodes run inside [min, max]; outside the window max 0 means it can add none, and pods that need the
group wait, pending, for the next window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from components._base import Component

UNCHANGED = -1  # the provider's "leave the desired capacity as it is" for a scheduled action


@dataclass(frozen=True, kw_only=True)
class ScheduledCapacityArgs:
    autoscaling_group_name: pulumi.Input[str]
    """The Auto Scaling group (of an EKS managed node group: its `resources[0].autoscalingGroups[0].name`).
    Required."""
    min_size: int
    """The group's minimum inside the window. Required, >= 0."""
    max_size: int
    """The group's maximum inside the window. Required, >= min_size and >= 1."""
    scale_up: str
    """Cron expression (5 fields) that opens the window. Required."""
    scale_down: str
    """Cron expression (5 fields) that closes it. Required."""
    time_zone: str = "UTC"
    """IANA time zone both expressions are read in. Default UTC."""


class ScheduledCapacity(Component):
    def __init__(self, name: str, args: ScheduledCapacityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("compute", "ScheduledCapacity", name, opts)
        if args.min_size < 0 or args.max_size < max(1, args.min_size):
            raise ValueError(f"{name}: need 0 <= min_size <= max_size and max_size >= 1, "
                             f"got {args.min_size}/{args.max_size}")
        for short, cron in (("scale_up", args.scale_up), ("scale_down", args.scale_down)):
            if len(cron.split()) != 5:
                raise ValueError(f"{name}: {short} must be a 5-field cron expression, got {cron!r}")
        windows = {
            "scale-up": (args.scale_up, args.min_size, args.max_size, UNCHANGED),
            "scale-down": (args.scale_down, 0, 0, 0),
        }
        for short, (cron, low, high, desired) in windows.items():
            aws.autoscaling.Schedule(
                f"{name}-{short}",
                scheduled_action_name=f"{name}-{short}",
                autoscaling_group_name=args.autoscaling_group_name,
                recurrence=cron,
                time_zone=args.time_zone,
                min_size=low,
                max_size=high,
                desired_capacity=desired,
                opts=self.child(),
            )
        self.register_outputs({})
