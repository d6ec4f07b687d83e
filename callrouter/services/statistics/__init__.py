"""Figures for supervisors and researchers: rollups and queries, drill-down to the calls, the live wallboard, cases."""
