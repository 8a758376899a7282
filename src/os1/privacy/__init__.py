"""Privacy: export everything, erase everything."""
