"""The tag names of a usage event (DESIGN 6.1), shared by validation and the source adapters."""

TAG_NAMES = ("team", "service", "cost_center", "environment", "workflow", "prompt_template")
TAG_SET = frozenset(TAG_NAMES)
