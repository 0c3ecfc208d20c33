"""Robots: profiles (joints, limits, cameras, uid segments), the unique-ID codec and registry.

Imports only from ``schemas``.
"""
