"""Usage records: which calibration each pipeline run selected (``/api/v1/usage``).

The brick framework sends one record per run (through CaDBIO's local queue); the impact
of a catalogue change is found by replaying the recorded selections.
"""
