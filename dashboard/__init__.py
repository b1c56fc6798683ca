"""LR Tempo dashboard (Dash + Plotly)."""
