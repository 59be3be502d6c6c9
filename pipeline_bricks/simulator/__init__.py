"""The MXT simulator: an L1 event list, an attitude file and the truth, from the CalDB.

``pipeline-bricks simulate`` (:mod:`pipeline_bricks.simulator.command`); physics and
options in docs/simulator.md.
"""
