"""Simulation campaigns: many simulated observations through the bricks, compared with the truth.

``pipeline-bricks campaign`` (:mod:`.command`) draws each run from a scenario file
(:mod:`.scenario`, ``scenarios/*.yaml``), simulates and reduces it (:mod:`.locate`), matches
what was found with the truth and keeps the run's result (:mod:`.runs`), and sums the runs
up in ``report.json`` and ``runs.ecsv`` (:mod:`.report`). This module imports nothing heavy:
``pipeline-bricks --help`` reads it.
"""
