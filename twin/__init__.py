"""The grid twin: the firmware's portable core compiled for the host, many boards in one process,
with a model of the hardware around it (twin/twin.c; docs/grid.md, "The grid twin")."""
