"""MXT pipeline bricks: calibrate, coordinates, screen, products (pure science + brick classes)."""
