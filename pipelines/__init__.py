"""How data moves: source adapters, the store, Dagster assets and checks, publish, export, CLI.

The only layer that imports Dagster; everything below it is plain Python.
"""
