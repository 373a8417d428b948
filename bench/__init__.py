"""Benchmarks of Touchflow. ``python -m bench --help``; results go to bench/RESULTS.md."""
