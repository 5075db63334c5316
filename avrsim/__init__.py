"""The generated rule and the firmware on an emulated ATmega328P (simavr)."""
