"""Figures: functions that take data and return matplotlib Figures (Agg backend)."""
