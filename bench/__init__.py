"""The benchmark: synthetic config repositories, the plain-Python floor, and the timed runner."""
