"""The supervisor dashboard: history figures, charts, tables and exports for supervisors and team leads."""
