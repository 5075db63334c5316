"""The serial monitor of grid state (python -m monitor), and PlatformIO's monitor filter."""
