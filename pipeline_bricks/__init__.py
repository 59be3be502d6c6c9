"""MXT pipeline bricks (see issue 6; not built yet)."""
