"""Stand-ins for services syncd talks to, used only by the tests and the benches."""
