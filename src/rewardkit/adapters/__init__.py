"""Thin glue between :class:`rewardkit.LadderReward` and trainers.

Each adapter lives in its own module and imports its trainer's packages only when used:
``rewardkit.adapters.trl``, ``rewardkit.adapters.openrlhf``, ``rewardkit.adapters.verl``.
"""
