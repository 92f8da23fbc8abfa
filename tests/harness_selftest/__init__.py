"""Smoke tests of the test harness itself: each fixture works on its own and cleans up."""
