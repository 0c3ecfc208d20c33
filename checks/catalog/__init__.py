"""One module per check family; importing a module registers its checks."""
