"""Host simulator: compiles the generated C, runs grids with it, proves it equals the integer model."""
