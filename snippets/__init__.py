"""State Simulators: every piece of code the site shows, as importable, tested modules."""
