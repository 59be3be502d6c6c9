"""Authentication: bearer JWTs and roles."""
