"""MXT pipeline bricks: processing steps run by the scheduler through a runtime_data.json.

Each brick is a pure numpy function plus a thin class (``framework.Brick``) that declares its
inputs, parameters and the calibration codenames it needs; calibration comes through CaDBIO.
"""
