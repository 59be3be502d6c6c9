"""Single datasets: reading one, and changing its quality."""
