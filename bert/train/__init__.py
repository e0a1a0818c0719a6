"""Training: the step and loop, losses, optimizers and schedule, resumable state, devices and precision."""
