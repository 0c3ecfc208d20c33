"""What robot data looks like: the episode model, recording format 1.0, findings and profiles.

This is the bottom layer of embodiq: it imports nothing from ``robots``, ``checks`` or
``pipelines``.
"""
