"""Runs: the run folder (``run``), what makes a run what it is and its id (``identity``), and seed groups (``seeds``)."""
