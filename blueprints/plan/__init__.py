"""What renders and reads a plan, offline: the engine (stack file -> Plan), the plan cache, diff,
cost, diagram and the pull-request report (`blueprint ci`). The composition itself (tiers, spec,
training, inference, security, ...) lives one level up in `blueprints/`."""
