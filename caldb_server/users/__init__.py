"""Users of the built-in token issuer: names, roles and hashed passwords."""
