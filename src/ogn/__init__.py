"""ogn: learning molecular dynamics from observation (Liu et al., Materials Horizons 2023)."""

__version__ = "0.1.0"
