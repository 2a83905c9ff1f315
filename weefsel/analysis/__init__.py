"""analysis stage of weefsel."""
