"""Trajectory (H5MD) and structure (LAMMPS data, extxyz, dump) files."""
