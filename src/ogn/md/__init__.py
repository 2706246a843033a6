"""Molecular dynamics: the jax engine (simulate, protocols) and the LAMMPS engine (lammps)."""
